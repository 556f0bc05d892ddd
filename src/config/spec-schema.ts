// The shape of config.json (runtime-spec v1.2 plus the v1.3 Linux fields),
// with the rules that concern a single value. Ranges follow the Go types of
// specs-go, narrowed where the kernel or the spec allows less.
import {
  CAPABILITY_SETS, HOOK_NAMES, ROOTFS_PROPAGATION, SECCOMP_ACTIONS, SECCOMP_ARCHES,
  SECCOMP_FLAGS, SECCOMP_OPERATORS, TIME_OFFSET_CLOCKS, isNamespaceType, RLIMITS,
} from '../oci/tables.js';
import {
  type Check, type Schema, absolute, arr, bool, enumOf, i32, i64, int, map, nonEmpty, obj,
  any, id32, rawStr, str, u16, u32, u64,
} from './schema.js';

const envEntry: Check = (v: string) => (v.indexOf('=') > 0 ? undefined : 'must be in KEY=VALUE form');

const semver: Check = (v: string) => {
  const m = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) return `${JSON.stringify(v)} is not a valid SemVer version`;
  if (m[1] !== '1') return `unsupported version ${JSON.stringify(v)} (major version must be 1)`;
  return undefined;
};

const cpuList: Check = (v: string) =>
  (/^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/.test(v) ? undefined : 'must be a CPU list such as "0-3,7"');

// HOST_NAME_MAX; sethostname(2) fails with EINVAL beyond it.
const hostName: Check = (v: string) => (v.length <= 64 ? undefined : 'must be at most 64 characters');

/** Sysctl keys address files under /proc/sys, so a path component must not escape it. */
const sysctlKey: Check = (k: string) => {
  const parts = k.includes('/') ? k.split('/') : k.split('.');
  if (k === '' || parts.some((p) => p === '' || p === '.' || p === '..')) return 'invalid sysctl name';
  return undefined;
};

const notEmptyKey: Check = (k: string) => (k === '' ? 'keys must not be empty' : undefined);

const idMapping = obj({
  containerID: id32,
  hostID: id32,
  // The kernel refuses empty extents.
  size: int(1, 0xffffffff),
}, ['containerID', 'hostID', 'size']);

const hook = obj({
  path: str(absolute),
  args: arr(str()),
  env: arr(str(envEntry)),
  timeout: int(1, 0x7fffffff),
}, ['path']);

const capList = arr(str());

const process = obj({
  terminal: bool,
  consoleSize: obj({ height: u32, width: u32 }, ['height', 'width']),
  user: obj({
    uid: id32,
    gid: id32,
    umask: int(0, 0o777),
    additionalGids: arr(id32),
    username: str(),
  }, ['uid', 'gid']),
  args: arr(str(), nonEmpty),
  commandLine: str(),
  env: arr(str(envEntry)),
  cwd: str(absolute),
  capabilities: obj(Object.fromEntries(CAPABILITY_SETS.map((s) => [s, capList]))),
  rlimits: arr(obj({
    type: str(enumOf(RLIMITS.keys(), 'rlimit')),
    hard: u64,
    soft: u64,
  }, ['type', 'hard', 'soft'])),
  noNewPrivileges: bool,
  apparmorProfile: str(),
  oomScoreAdj: int(-1000, 1000),
  scheduler: obj({
    policy: str(enumOf(['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE'], 'scheduler policy')),
    nice: int(-20, 19),
    priority: i32,
    flags: arr(str(enumOf(['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN',
      'SCHED_FLAG_KEEP_POLICY', 'SCHED_FLAG_KEEP_PARAMS', 'SCHED_FLAG_UTIL_CLAMP_MIN',
      'SCHED_FLAG_UTIL_CLAMP_MAX'], 'scheduler flag'))),
    runtime: u64,
    deadline: u64,
    period: u64,
  }, ['policy']),
  selinuxLabel: str(),
  ioPriority: obj({
    class: str(enumOf(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'], 'I/O priority class')),
    priority: int(0, 7),
  }, ['class', 'priority']),
  execCPUAffinity: obj({ initial: str(cpuList), final: str(cpuList) }),
  // args: the spec requires at least one on every platform but Windows.
}, ['user', 'args', 'cwd']);

const mount = obj({
  destination: str(absolute),
  type: str(),
  source: str(),
  options: arr(str()),
  uidMappings: arr(idMapping),
  gidMappings: arr(idMapping),
}, ['destination']);

// -1 means "no limit" for the signed cgroup values; anything lower is a mistake.
const limit64 = int(-1, 2 ** 63, 'between -1 and 9223372036854775807');
const blkDev = { major: i64, minor: i64 };
const throttle = arr(obj({ ...blkDev, rate: u64 }, ['major', 'minor', 'rate']));

const resources = obj({
  devices: arr(obj({
    allow: bool,
    type: str(enumOf(['a', 'b', 'c'], 'device type')),
    major: limit64,
    minor: limit64,
    access: str((v: string) => (/^(?!.*(.).*\1)[rwm]*$/.test(v) ? undefined : 'must be a combination of "r", "w" and "m"')),
  }, ['allow'])),
  memory: obj({
    limit: limit64,
    reservation: limit64,
    swap: limit64,
    kernel: limit64,
    kernelTCP: limit64,
    swappiness: int(0, 100),
    disableOOMKiller: bool,
    useHierarchy: bool,
    checkBeforeUpdate: bool,
  }),
  cpu: obj({
    shares: u64,
    quota: limit64,
    burst: u64,
    period: u64,
    realtimeRuntime: limit64,
    realtimePeriod: u64,
    cpus: str(cpuList),
    mems: str(cpuList),
    idle: int(0, 1),
  }),
  pids: obj({ limit: limit64 }, ['limit']),
  blockIO: obj({
    weight: u16,
    leafWeight: u16,
    weightDevice: arr(obj({ ...blkDev, weight: u16, leafWeight: u16 }, ['major', 'minor'])),
    throttleReadBpsDevice: throttle,
    throttleWriteBpsDevice: throttle,
    throttleReadIOPSDevice: throttle,
    throttleWriteIOPSDevice: throttle,
  }),
  hugepageLimits: arr(obj({
    pageSize: str((v: string) => (/^[0-9]+[KMG]B$/.test(v) ? undefined : 'must be a size such as "2MB"')),
    limit: u64,
  }, ['pageSize', 'limit'])),
  network: obj({
    classID: u32,
    priorities: arr(obj({ name: str(), priority: u32 }, ['name', 'priority'])),
  }),
  rdma: map(obj({ hcaHandles: u32, hcaObjects: u32 })),
  unified: map(str(), notEmptyKey),
});

const seccomp = obj({
  defaultAction: str(enumOf(SECCOMP_ACTIONS, 'seccomp action')),
  defaultErrnoRet: u32,
  architectures: arr(str(enumOf(SECCOMP_ARCHES, 'seccomp architecture'))),
  flags: arr(str(enumOf(SECCOMP_FLAGS, 'seccomp flag'))),
  listenerPath: str(absolute),
  listenerMetadata: str(),
  syscalls: arr(obj({
    names: arr(str(), nonEmpty),
    action: str(enumOf(SECCOMP_ACTIONS, 'seccomp action')),
    errnoRet: u32,
    args: arr(obj({
      index: int(0, 5),
      value: u64,
      valueTwo: u64,
      op: str(enumOf(SECCOMP_OPERATORS, 'seccomp operator')),
    }, ['index', 'value', 'op'])),
  }, ['names', 'action'])),
}, ['defaultAction']);

const linux = obj({
  namespaces: arr(obj({
    type: str((v: string) => (isNamespaceType(v) ? undefined : `unknown namespace ${JSON.stringify(v)}`)),
    path: str(absolute),
  }, ['type'])),
  uidMappings: arr(idMapping),
  gidMappings: arr(idMapping),
  timeOffsets: map(obj({ secs: i64, nanosecs: int(0, 999_999_999) }),
    enumOf(Object.keys(TIME_OFFSET_CLOCKS), 'clock')),
  devices: arr(obj({
    path: str(absolute),
    type: str(enumOf(['c', 'b', 'u', 'p'], 'device type')),
    major: i64,
    minor: i64,
    // Generated configs (podman's) may include the file type bits; the planner keeps 07777.
    fileMode: u32,
    uid: id32,
    gid: id32,
  }, ['path', 'type'])),
  cgroupsPath: str(),
  resources,
  rootfsPropagation: str(enumOf(Object.keys(ROOTFS_PROPAGATION), 'propagation')),
  seccomp,
  sysctl: map(str(), sysctlKey),
  maskedPaths: arr(str(absolute)),
  readonlyPaths: arr(str(absolute)),
  mountLabel: str(),
  intelRdt: obj({
    closID: str(),
    schemata: arr(str()),
    l3CacheSchema: str(),
    memBwSchema: str(),
    enableMonitoring: bool,
    enableCMT: bool,
    enableMBM: bool,
  }),
  personality: obj({
    domain: str(enumOf(['LINUX', 'LINUX32'], 'personality domain')),
    flags: arr(str()),
  }, ['domain']),
  memoryPolicy: obj({
    mode: str(enumOf(['MPOL_DEFAULT', 'MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE',
      'MPOL_PREFERRED', 'MPOL_PREFERRED_MANY', 'MPOL_LOCAL'], 'memory policy mode')),
    nodes: str(cpuList),
    flags: arr(str(enumOf(['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'], 'memory policy flag'))),
  }, ['mode']),
  netDevices: map(obj({ name: str() }), notEmptyKey),
});

export const SPEC_SCHEMA: Schema = obj({
  ociVersion: str(semver),
  process,
  root: obj({ path: str(nonEmpty), readonly: bool }, ['path']),
  hostname: str(hostName),
  domainname: str(hostName),
  mounts: arr(mount),
  hooks: obj(Object.fromEntries(HOOK_NAMES.map((h) => [h, arr(hook)]))),
  annotations: map(rawStr, notEmptyKey),
  linux,
  // Other platforms' sections: recognised so they are ignored without a warning.
  windows: any, solaris: any, vm: any, zos: any,
}, ['ociVersion', 'root']);
