// Writes an encoded init plan for one test scenario (uses the real encoder).
//   node run-plan.mjs <scenario> <rootfs> <statedir> <out> [-- args...]
// Scenarios: basic, userns, escape, badbind, caps, extras, nopivot, badnull.
// Overrides: JOIN_NET / JOIN_UTS=<ns file> join instead of creating; ROOT_PROP=<n>
// root propagation flags; BAD_MAP=1 adds an overlapping uid mapping (userns).
import { writeFileSync } from 'node:fs';
import { encodePlan } from '../../../dist/native/plan.js';

const NS = { mnt: 0x20000, uts: 0x04000000, ipc: 0x08000000, user: 0x10000000, pid: 0x20000000, net: 0x40000000, time: 0x80 };
const MS = { RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, REMOUNT: 32, BIND: 4096, REC: 16384, PRIVATE: 1 << 18, SLAVE: 1 << 19, STRICTATIME: 1 << 24 };
const S_IFCHR = 0o020000;
const CAP = { CHOWN: 0n, KILL: 5n };

const [scenario, rootfs, stateDir, out, ...rest] = process.argv.slice(2);
const args = rest[0] === '--' ? rest.slice(1) : ['sh', '-c', 'echo hello'];

const mount = (dest, type, source, flags, data = '', more = {}) => ({ dest, type, source, flags, data, propagation: [], ...more });
const dev = (path, major, minor, bind) => ({ path, type: S_IFCHR, major, minor, mode: 0o666, uid: 0, gid: 0, bind });

function base(bind) {
  return {
    namespaces: ['pid', 'mnt', 'uts', 'ipc', 'net'].map((n) => ({ type: NS[n] })),
    uidMappings: [], gidMappings: [],
    hostname: `ctr-${scenario}`,
    rootfs, rootfsReadonly: false, noPivot: false,
    mounts: [
      mount('/proc', 'proc', 'proc', MS.NOSUID | MS.NODEV | MS.NOEXEC),
      mount('/dev', 'tmpfs', 'tmpfs', MS.NOSUID | MS.STRICTATIME, 'mode=755,size=65536k'),
      mount('/dev/pts', 'devpts', 'devpts', MS.NOSUID | MS.NOEXEC, 'newinstance,ptmxmode=0666,mode=0620'),
      mount('/dev/shm', 'tmpfs', 'shm', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=1777,size=65536k'),
      mount('/sys', 'sysfs', 'sysfs', MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY),
    ],
    devices: [dev('/dev/null', 1, 3, bind), dev('/dev/zero', 1, 5, bind), dev('/dev/full', 1, 7, bind),
      dev('/dev/random', 1, 8, bind), dev('/dev/urandom', 1, 9, bind), dev('/dev/tty', 5, 0, bind)],
    symlinks: [
      { path: '/dev/fd', target: '/proc/self/fd' }, { path: '/dev/stdin', target: '/proc/self/fd/0' },
      { path: '/dev/stdout', target: '/proc/self/fd/1' }, { path: '/dev/stderr', target: '/proc/self/fd/2' },
      { path: '/dev/ptmx', target: 'pts/ptmx' },
    ],
    maskedPaths: ['/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/scsi', '/sys/firmware', '/proc/does-not-exist'],
    readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    stateDir,
    process: { args, env: ['PATH=/usr/bin:/bin', 'HOME=/root'], cwd: '/', uid: 0, gid: 0, additionalGids: [],
      noNewPrivileges: false, rlimits: [] },
    timeOffsets: [], sysctls: [], debug: !!process.env.PLAN_DEBUG,
  };
}

let plan;
switch (scenario) {
  case 'basic': plan = base(false); break;
  case 'nopivot': plan = { ...base(false), noPivot: true }; break;
  case 'userns':
    plan = base(true);
    plan.namespaces.unshift({ type: NS.user });
    plan.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    plan.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    break;
  case 'escape':
    // /mnt/link -> ../../../../tmp/escape inside the rootfs (made by the test).
    plan = base(false);
    plan.mounts.push(mount('/mnt/link/sub', 'tmpfs', 'tmpfs', 0, 'size=1m'));
    plan.mounts.push(mount('/mnt/abs/data', '', process.env.BIND_SRC ?? '/etc', MS.BIND | MS.REC, '',
      { remountFlags: MS.RDONLY | MS.NOSUID }));
    break;
  case 'badbind':
    plan = base(false);
    plan.mounts.push(mount('/data', '', '/nonexistent/source', MS.BIND | MS.REC));
    break;
  case 'caps':
    plan = base(false);
    plan.process.capabilities = { bounding: (1n << CAP.CHOWN) | (1n << CAP.KILL), effective: (1n << CAP.CHOWN) | (1n << CAP.KILL),
      permitted: (1n << CAP.CHOWN) | (1n << CAP.KILL), inheritable: 0n, ambient: 0n };
    break;
  case 'extras':
    plan = base(false);
    plan.namespaces.push({ type: NS.time });
    plan.timeOffsets = [{ clock: 7 /* BOOTTIME */, secs: 86400n * 1000n, nanosecs: 0 }, { clock: 1, secs: 86400n * 1000n, nanosecs: 5 }];
    plan.sysctls = [{ key: 'net.ipv4.ip_forward', value: '1' }];
    plan.rootfsReadonly = true;
    plan.mounts.push(mount('/tmp', 'tmpfs', 'tmpfs', MS.NOSUID | MS.NODEV, 'size=1m'));
    Object.assign(plan.process, { cwd: '/tmp/work/dir', uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o077,
      noNewPrivileges: true, oomScoreAdj: 500, rlimits: [{ resource: 7 /* NOFILE */, soft: 321n, hard: 654n }] });
    break;
  case 'badnull':
    // The rootfs brings its own /dev (no tmpfs, no device plan) whose null is a
    // link to a procfs file: masking must refuse rather than bind that file.
    plan = base(false);
    plan.mounts = plan.mounts.filter((m) => m.dest === '/proc');
    plan.devices = [];
    plan.symlinks = [];
    break;
  default: throw new Error(`unknown scenario ${scenario}`);
}
for (const [env, type] of [['JOIN_NET', NS.net], ['JOIN_UTS', NS.uts]]) {
  const ns = plan.namespaces.find((n) => n.type === type);
  if (process.env[env]) ns.path = process.env[env];
}
if (process.env.ROOT_PROP) plan.rootPropagation = Number(process.env.ROOT_PROP);
if (process.env.BAD_MAP) plan.uidMappings.push({ containerID: 10, hostID: 100010, size: 5 });
writeFileSync(out, encodePlan(plan));
