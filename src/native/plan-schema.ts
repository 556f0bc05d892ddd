// The helper's plan: everything ocirun-init must do for one container (create)
// or one process joining it (exec), as plain data. These types are the one
// schema of the TypeScript/C++ boundary: encodePlan() (plan-encode.ts) sends
// them as JSON under these very names, and native/init/plan_schema.cc reads
// each interface with one reader keyed by the same names. An unknown, missing
// or mistyped field is an error there naming the field, and
// test/unit/plan-roundtrip.test.ts checks that what the helper read is what
// was sent, field by field (docs/architecture.md, "The plan").
//
// On the wire: bigint is a JSON integer (u64/i64 exactly), a Buffer a
// lowercase hex string, an undefined field is absent.

export interface NamespacePlan {
  /** CLONE_NEW* constant. */
  type: number;
  /** Join this namespace file instead of creating a new namespace. */
  path?: string;
}

export interface IdMapping { containerID: number; hostID: number; size: number }

export interface MountPlan {
  dest: string;
  source: string;
  type: string;
  flags: number;
  data: string;
  /** Second call: mount(NULL, dest, NULL, MS_REMOUNT|MS_BIND|remountFlags). */
  remountFlags?: number;
  /** Each one a mount(NULL, dest, NULL, flag) call after mounting. */
  propagation: number[];
  attrSet?: number;
  attrClr?: number;
  /** Only create dest as a directory. */
  mkdirOnly?: boolean;
  /** Create dest as a symlink to this target instead of mounting. */
  symlink?: string;
  /** Bind an id-mapped clone of source: the top mount ('idmap') or every mount ('ridmap'). */
  idmap?: 'idmap' | 'ridmap';
  /** The mount's own mapping; absent: the container's user namespace. */
  uidMappings?: IdMapping[];
  gidMappings?: IdMapping[];
  /** tmpfs only: start with a copy of what dest held (tmpcopyup). */
  copyUp?: boolean;
}

export interface DevicePlan {
  path: string;
  /** S_IFCHR, S_IFBLK or S_IFIFO. */
  type: number;
  major: number;
  minor: number;
  mode: number;
  uid: number;
  gid: number;
  /** Bind-mount the host node instead of mknod (inside a user namespace). */
  bind: boolean;
}

export interface SymlinkPlan { path: string; target: string }

export interface RlimitPlan { resource: number; soft: bigint; hard: bigint }

export interface CapabilityPlan {
  bounding: bigint;
  effective: bigint;
  inheritable: bigint;
  permitted: bigint;
  ambient: bigint;
}

export interface SeccompArgPlan {
  index: number;
  /** scmp_compare value (SCMP_CMP_NE = 1 .. SCMP_CMP_MASKED_EQ = 7). */
  op: number;
  value: bigint;
  valueTwo: bigint;
}

export interface SeccompRulePlan {
  names: string[];
  /** SCMP_ACT_* value, errno/trace data included. */
  action: number;
  /** ANDed; the planner already split rules whose conditions must be ORed. */
  args: SeccompArgPlan[];
}

export interface SeccompPlan {
  defaultAction: number;
  /** libseccomp architecture names ("x86", "x32"...); the native one is always in. */
  arches: string[];
  /** SECCOMP_FILTER_FLAG_* bits for seccomp(2). */
  flags: number;
  rules: SeccompRulePlan[];
  /** SCMP_ACT_NOTIFY: where the notify fd goes, and the state JSON cut where the pid goes. */
  listener?: { path: string; state: string[] };
  /** Where stage 0 keeps the compiled program, and this profile's entry (src/seccomp/cache.ts). */
  cache?: { dir: string; key: string };
}

export interface SchedulerPlan {
  policy: number;
  nice: number;
  priority: number;
  flags: number;
  runtime: bigint;
  deadline: bigint;
  period: bigint;
}

/** Seccomp, AppArmor, SELinux, scheduler, I/O priority, CPU affinity and personality (src/process/attrs.ts). */
export interface ProcessAttrsPlan {
  seccomp?: SeccompPlan;
  /** Written as "exec <profile>" right before execve. */
  apparmorProfile?: string;
  /** Written to /proc/thread-self/attr/exec right before execve (planned only where SELinux is on). */
  selinuxLabel?: string;
  scheduler?: SchedulerPlan;
  /** ioprio_set(2) value: class << 13 | level. */
  ioPriority?: number;
  /** CPU masks, 8-byte little-endian words, bit n = CPU n. */
  cpuAffinityInitial?: Buffer;
  cpuAffinityFinal?: Buffer;
  /** personality(2) persona. */
  personality?: number;
}

export interface ProcessPlan extends ProcessAttrsPlan {
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  umask?: number;
  noNewPrivileges: boolean;
  rlimits: RlimitPlan[];
  capabilities?: CapabilityPlan;
  oomScoreAdj?: number;
}

/** A hook the helper runs itself. */
export interface HookPlan {
  kind: 'createContainer' | 'startContainer';
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface InitHooksPlan {
  /** Stop at the createRuntime point (MSG_HOOKS) for prestart/createRuntime hooks. */
  pauseForRuntimeHooks: boolean;
  /** createContainer and startContainer hooks, each kind in config order. */
  hooks: HookPlan[];
  /** State JSON before and after the pid, for createContainer ("creating") and startContainer ("created"). */
  stateCreate?: [string, string];
  stateStart?: [string, string];
}

export interface TimeOffsetPlan { clock: number; secs: bigint; nanosecs: number }

export interface CgroupPlacementPlan {
  /** v2: clone3 the init into this cgroup directory (CLONE_INTO_CGROUP). */
  dir?: string;
  /** cgroup.procs files the init's pid is written to before it is released. */
  procs: string[];
  /**
   * v1 `tasks` files the init writes "0" to as its first step, moving itself:
   * a thread moving itself takes no global lock, where a pid written to
   * cgroup.procs waits for an RCU grace period (docs/performance.md).
   */
  tasks?: string[];
  /**
   * The runtime places the init itself (the systemd driver's scope is made
   * with its pid): stage 0 sends MSG_HOOKS right after MSG_PID and waits for 'h'.
   */
  byRuntime?: boolean;
}

export interface ConsolePlan {
  /** The helper's fd of a connected console socket: 4 + the index of that socket in SpawnOptions.extraFds. */
  socketFd: number;
  /** process.consoleSize, applied when both are given. */
  rows?: number;
  cols?: number;
}

/** What both variants carry: the process and how the helper talks. */
interface CommonPlan {
  process: ProcessPlan;
  debug: boolean;
  /** Ask the helper for phase timestamps (answered with MSG_TIMING). */
  timing?: boolean;
  /** process.terminal: where the pty master goes. */
  console?: ConsolePlan;
}

/** create: build a new container around its init (runc's initStandard, youki's as_init). */
export interface InitPlan extends CommonPlan {
  mode: 'create';
  namespaces: NamespacePlan[];
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  hostname?: string;
  domainname?: string;
  rootfs: string;
  rootfsReadonly: boolean;
  noPivot: boolean;
  /**
   * No mount namespace at all (runc's chroot mode): the mounts land in the
   * runtime's own namespace, "/" keeps its propagation and the init chroots
   * into the rootfs. Asked for explicitly, so a plan that merely forgot the
   * namespace is refused instead of mounting on the host.
   */
  hostMountNamespace?: boolean;
  /** Applied to "/" before the rootfs bind (default MS_SLAVE|MS_REC). */
  rootPropagation?: number;
  /** Applied to the container's "/" after pivot_root. */
  rootfsPropagation?: number;
  mounts: MountPlan[];
  devices: DevicePlan[];
  symlinks: SymlinkPlan[];
  maskedPaths: string[];
  readonlyPaths: string[];
  stateDir: string;
  timeOffsets: TimeOffsetPlan[];
  sysctls: Array<{ key: string; value: string }>;
  hooks?: InitHooksPlan;
  /** Where the init goes before it runs anything (src/cgroups). */
  cgroup?: CgroupPlacementPlan;
  /** How a new user namespace is mapped when the runtime has no root (src/rootless/idmaps.ts). */
  userns?: UsernsMappingPlan;
}

/** Absent: stage 0 writes uid_map and gid_map itself (it has root, or CAP_SETUID over its namespace). */
export interface UsernsMappingPlan {
  /** Write "deny" to the init's setgroups before its gid map, as an unprivileged writer must. */
  setgroupsDeny?: boolean;
  /** newuidmap / newgidmap, run as "newuidmap PID inside outside size ..." instead of writing the map. */
  uidMapHelper?: string;
  gidMapHelper?: string;
}

/** exec: join the running container whose init is behind `targetFd` (runc's initSetns, youki's as_tenant). */
export interface ExecPlan extends CommonPlan {
  mode: 'exec';
  /** Every one joined: exec never creates a namespace. */
  namespaces: Array<Required<NamespacePlan>>;
  /** The helper's fd of a pidfd of the container's init (4 + its index in extraFds). */
  targetFd: number;
  /**
   * The init's cgroups (src/cgroups/join.ts), by host paths opened before anything else:
   * `tasks` and `procs` take stage 0 itself, `dir` the process it clones. The
   * init's cgroup exists: nothing for the runtime to place.
   */
  cgroup?: Omit<CgroupPlacementPlan, 'byRuntime'>;
  /** A container without a mount namespace: the init's root (/proc/<pid>/root) to chroot into. */
  root?: string;
}

export type HelperPlan = InitPlan | ExecPlan;
