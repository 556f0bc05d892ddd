// The devices and /dev links every Linux container gets (runtime-spec
// runtime-linux.md), plus the config's linux.devices.
import { existsSync } from 'node:fs';
import type { DevicePlan, SymlinkPlan } from '../native/plan-schema.js';
import type { LinuxDevice } from '../oci/types.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

/** linux.devices[].type -> file type; "u" (unbuffered) is a character device to the kernel. */
const DEVICE_TYPES: Readonly<Record<string, number>> = { c: S_IFCHR, u: S_IFCHR, b: S_IFBLK, p: S_IFIFO };

const DEFAULT_DEVICES: Array<[string, number, number]> = [
  ['/dev/null', 1, 3],
  ['/dev/zero', 1, 5],
  ['/dev/full', 1, 7],
  ['/dev/random', 1, 8],
  ['/dev/urandom', 1, 9],
  ['/dev/tty', 5, 0],
];

/**
 * Inside a new user namespace mknod is not allowed, so the host's nodes are
 * bind-mounted instead (what runc does for rootless and userns containers).
 */
export function defaultDevices(inUserNamespace: boolean): DevicePlan[] {
  return DEFAULT_DEVICES.map(([path, major, minor]) => ({
    path, type: S_IFCHR, major, minor, mode: 0o666, uid: 0, gid: 0, bind: inUserNamespace,
  }));
}

/**
 * The default devices, then linux.devices. A configured device replaces a
 * default one at the same path (as in runc). Inside a user namespace mknod is
 * not allowed: the host's node at the same path is bind-mounted instead and
 * keeps its own mode and owner; fifos can still be made there.
 *
 * /dev/ptmx is always the link to the container's own devpts (runc's
 * setupPtmx): engines list the host's /dev/ptmx among the devices of a
 * privileged container, and making that node only to replace it would leave
 * the container allocating terminals from the host's devpts.
 */
export function planDevices(devices: readonly LinuxDevice[] | undefined, inUserNamespace: boolean): DevicePlan[] {
  const configured = (devices ?? []).filter((d) => d.path !== PTMX).map((d): DevicePlan => {
    const type = DEVICE_TYPES[d.type];
    return {
      path: d.path,
      type,
      major: d.major ?? 0,
      minor: d.minor ?? 0,
      mode: (d.fileMode ?? 0o666) & 0o7777,
      uid: d.uid ?? 0,
      gid: d.gid ?? 0,
      bind: inUserNamespace && type !== S_IFIFO,
    };
  });
  const taken = new Set(configured.map((d) => d.path));
  return [...defaultDevices(inUserNamespace).filter((d) => !taken.has(d.path)), ...configured];
}

const PTMX = '/dev/ptmx';
let kcore: boolean | undefined;
const hostKcore = (): boolean => (kcore ??= existsSync('/proc/kcore'));

/**
 * runc's setupDevSymlinks (and ptmx), with /dev/core only where the host's
 * kernel has /proc/kcore (CONFIG_PROC_KCORE): a link to nothing otherwise.
 * Looked at once per process.
 */
export function defaultDevSymlinks(hostHasKcore = hostKcore()): SymlinkPlan[] {
  return [
    { path: '/dev/fd', target: '/proc/self/fd' },
    { path: '/dev/stdin', target: '/proc/self/fd/0' },
    { path: '/dev/stdout', target: '/proc/self/fd/1' },
    { path: '/dev/stderr', target: '/proc/self/fd/2' },
    ...(hostHasKcore ? [{ path: '/dev/core', target: '/proc/kcore' }] : []),
    { path: PTMX, target: 'pts/ptmx' },
  ];
}
