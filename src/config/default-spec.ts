// The config written by `ocirun spec`: the same container `runc spec` (1.1.5)
// describes, minus what ocirun does not implement yet, so it always passes our
// own validator. Differences from runc: terminal is false and hostname is
// "ocirun". Like runc's, the root config denies every device by default
// (linux.resources.devices); the devices a container needs stay allowed (src/cgroups/devices.ts).
import type { Mount, Spec } from '../oci/types.js';
import { OCI_VERSION } from '../oci/tables.js';

export interface DefaultSpecOptions {
  /** Like `runc spec --rootless`: a user namespace mapping root to the caller, no network namespace. */
  rootless?: boolean;
  /** Host ids root maps to when rootless; default the caller's effective ids. */
  uid?: number;
  gid?: number;
}

const RUNC_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const rootless = opts.rootless ?? false;
  const mounts: Mount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    {
      destination: '/dev/pts', type: 'devpts', source: 'devpts',
      // gid 5 (tty) is not mapped in a rootless user namespace.
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])],
    },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    rootless
      // Without owning the network namespace sysfs cannot be mounted, only bound.
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...RUNC_CAPS],
        effective: [...RUNC_CAPS],
        permitted: [...RUNC_CAPS],
        ambient: [...RUNC_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'ocirun',
    mounts,
    linux: {
      namespaces: rootless
        ? [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user' }]
        : [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
        '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  // runc spec --rootless has none: without delegation there is no device cgroup to write.
  if (!rootless) spec.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
  if (rootless) {
    spec.linux!.uidMappings = [{ containerID: 0, hostID: opts.uid ?? process.geteuid?.() ?? 0, size: 1 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: opts.gid ?? process.getegid?.() ?? 0, size: 1 }];
  }
  return spec;
}
