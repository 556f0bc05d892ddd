// Types for the OCI runtime-spec documents ocirun reads and writes: config.json
// (v1.2, plus the v1.3 Linux additions), the state document and the features
// document. Field names follow the JSON exactly; optional in the JSON means
// optional here. Nothing in this module implies ocirun implements a field:
// see IMPLEMENTED in tables.ts for that.

/** Container config (config.json). */
export interface Spec {
  ociVersion: string;
  process?: Process;
  root?: Root;
  hostname?: string;
  domainname?: string;
  mounts?: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

// ---------------------------------------------------------------- process

export interface Process {
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  args?: string[];
  /** Windows only; accepted by the schema so it is recognised, never used. */
  commandLine?: string;
  env?: string[];
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: Rlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: IOPriority;
  execCPUAffinity?: ExecCPUAffinity;
}

export interface Box { height: number; width: number }

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
  username?: string;
}

export interface Rlimit {
  type: string;
  /** uint64; values >= 2^53 lose precision in JSON.parse, see toUint64(). */
  hard: number;
  soft: number;
}

export interface LinuxCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export type SchedulerPolicy =
  | 'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR' | 'SCHED_BATCH'
  | 'SCHED_ISO' | 'SCHED_IDLE' | 'SCHED_DEADLINE';

export type SchedulerFlag =
  | 'SCHED_FLAG_RESET_ON_FORK' | 'SCHED_FLAG_RECLAIM' | 'SCHED_FLAG_DL_OVERRUN'
  | 'SCHED_FLAG_KEEP_POLICY' | 'SCHED_FLAG_KEEP_PARAMS'
  | 'SCHED_FLAG_UTIL_CLAMP_MIN' | 'SCHED_FLAG_UTIL_CLAMP_MAX';

export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export interface IOPriority {
  class: 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';
  priority: number;
}

export interface ExecCPUAffinity { initial?: string; final?: string }

// ------------------------------------------------------------ root, mounts

export interface Root { path: string; readonly?: boolean }

export interface Mount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
}

// ------------------------------------------------------------------- hooks

export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface Hooks {
  /** Deprecated by the spec in favour of createRuntime/createContainer/startContainer. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

// ------------------------------------------------------------------- linux

export type NamespaceType =
  | 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface LinuxNamespace { type: NamespaceType; path?: string }

export interface IDMapping { containerID: number; hostID: number; size: number }

export interface TimeOffset { secs?: number; nanosecs?: number }

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: IDMapping[];
  gidMappings?: IDMapping[];
  /** Keys are clock names: "monotonic" or "boottime". */
  timeOffsets?: Record<string, TimeOffset>;
  devices?: LinuxDevice[];
  cgroupsPath?: string;
  resources?: LinuxResources;
  rootfsPropagation?: string;
  seccomp?: LinuxSeccomp;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  intelRdt?: LinuxIntelRdt;
  personality?: LinuxPersonality;
  /** v1.3 */
  memoryPolicy?: LinuxMemoryPolicy;
  /** v1.3: host interface name -> settings inside the container. */
  netDevices?: Record<string, LinuxNetDevice>;
}

export interface LinuxDevice {
  path: string;
  /** "c", "b", "u" or "p". */
  type: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

// ---------------------------------------------------------- linux.resources

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  pids?: LinuxPids;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  /** Keyed by RDMA device name. */
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 file name -> value. */
  unified?: Record<string, string>;
}

export interface LinuxDeviceCgroup {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
  /** Deprecated by the spec (cgroup v1 only, gone since Linux 5.4). */
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface LinuxPids { limit: number }

export interface LinuxBlockIODevice { major: number; minor: number }

export interface LinuxWeightDevice extends LinuxBlockIODevice {
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice extends LinuxBlockIODevice { rate: number }

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit { pageSize: string; limit: number }

export interface LinuxInterfacePriority { name: string; priority: number }

export interface LinuxNetwork { classID?: number; priorities?: LinuxInterfacePriority[] }

export interface LinuxRdma { hcaHandles?: number; hcaObjects?: number }

// ----------------------------------------------------------- linux.seccomp

export interface LinuxSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  flags?: string[];
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

export interface LinuxSyscall {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: string;
}

// ---------------------------------------------------- other linux sections

export interface LinuxIntelRdt {
  closID?: string;
  /** v1.3: whole schemata lines, written verbatim. */
  schemata?: string[];
  l3CacheSchema?: string;
  memBwSchema?: string;
  /** v1.3 replacement for enableCMT/enableMBM. */
  enableMonitoring?: boolean;
  enableCMT?: boolean;
  enableMBM?: boolean;
}

export interface LinuxPersonality { domain: 'LINUX' | 'LINUX32'; flags?: string[] }

export type MemoryPolicyMode =
  | 'MPOL_DEFAULT' | 'MPOL_BIND' | 'MPOL_INTERLEAVE' | 'MPOL_WEIGHTED_INTERLEAVE'
  | 'MPOL_PREFERRED' | 'MPOL_PREFERRED_MANY' | 'MPOL_LOCAL';

export type MemoryPolicyFlag =
  | 'MPOL_F_NUMA_BALANCING' | 'MPOL_F_RELATIVE_NODES' | 'MPOL_F_STATIC_NODES';

export interface LinuxMemoryPolicy {
  mode: MemoryPolicyMode;
  /** Node list such as "0-3,7". */
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

export interface LinuxNetDevice { name?: string }

// ------------------------------------------------------------------- state

/** runtime-spec statuses, plus runc's "paused" which callers may report. */
export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped' | 'paused';

export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Present while the container process exists on the host. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
}

// ---------------------------------------------------------------- features

export interface Features {
  ociVersionMin?: string;
  ociVersionMax?: string;
  /** Omitted means unknown; an empty array means none are supported. */
  hooks?: string[];
  mountOptions?: string[];
  linux?: FeaturesLinux;
  annotations?: Record<string, string>;
  potentiallyUnsafeConfigAnnotations?: string[];
}

export interface FeaturesLinux {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: {
    v1?: boolean;
    v2?: boolean;
    systemd?: boolean;
    systemdUser?: boolean;
    rdma?: boolean;
  };
  seccomp?: {
    enabled?: boolean;
    actions?: string[];
    operators?: string[];
    archs?: string[];
    knownFlags?: string[];
    supportedFlags?: string[];
  };
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean; schemata?: boolean; monitoring?: boolean };
  memoryPolicy?: { modes?: string[]; flags?: string[] };
  mountExtensions?: { idmap?: { enabled?: boolean } };
  netDevices?: { enabled?: boolean };
}
