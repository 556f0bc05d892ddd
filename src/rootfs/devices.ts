// The devices and /dev links every Linux container gets (runtime-spec runtime-linux.md).
import type { DevicePlan, SymlinkPlan } from '../native/plan.js';

const S_IFCHR = 0o020000;

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

export function defaultDevSymlinks(): SymlinkPlan[] {
  return [
    { path: '/dev/fd', target: '/proc/self/fd' },
    { path: '/dev/stdin', target: '/proc/self/fd/0' },
    { path: '/dev/stdout', target: '/proc/self/fd/1' },
    { path: '/dev/stderr', target: '/proc/self/fd/2' },
    { path: '/dev/ptmx', target: 'pts/ptmx' },
  ];
}
