// The lookup tables shared by the validator, the planner, `features` and `kill`.
// Anything that names a kernel constant lives here once, so the parts of the
// runtime that accept a name and the parts that advertise it cannot disagree.
import type { NamespaceType } from './types.js';

export { SIGNALS, SIGRTMIN, SIGRTMAX, parseSignal, signalName } from './signals.js';
export { IMPLEMENTED, fieldSupport, type FieldSupport } from './implemented.js';

/** Spec version ocirun writes (default spec, state) and advertises as its maximum. */
export const OCI_VERSION = '1.2.1';
export const OCI_VERSION_MIN = '1.0.0';

/**
 * Name-keyed tables are looked up with names taken from configs and command
 * lines; a null prototype keeps "constructor" or "__proto__" from matching.
 */
export function table<T>(entries: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<string, T>, entries));
}

// ---------------------------------------------------------------- namespaces

export const NAMESPACES = table({
  mount: 0x00020000, // CLONE_NEWNS
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
  time: 0x00000080,
}) as Readonly<Record<NamespaceType, number>>;

/** Name of the /proc/<pid>/ns entry for each type, for joining and comparing. */
export const NAMESPACE_PROC_NAMES = table({
  mount: 'mnt', uts: 'uts', ipc: 'ipc', user: 'user',
  pid: 'pid', network: 'net', cgroup: 'cgroup', time: 'time',
}) as Readonly<Record<NamespaceType, string>>;

export function isNamespaceType(s: string): s is NamespaceType {
  return NAMESPACES[s as NamespaceType] !== undefined;
}

// -------------------------------------------------------------- mount options

export const MS = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, SYNCHRONOUS: 0x10,
  REMOUNT: 0x20, MANDLOCK: 0x40, DIRSYNC: 0x80, NOSYMFOLLOW: 0x100,
  NOATIME: 0x400, NODIRATIME: 0x800, BIND: 0x1000, MOVE: 0x2000, REC: 0x4000,
  SILENT: 0x8000, UNBINDABLE: 0x20000, PRIVATE: 0x40000, SLAVE: 0x80000,
  SHARED: 0x100000, RELATIME: 0x200000, I_VERSION: 0x800000,
  STRICTATIME: 0x1000000, LAZYTIME: 0x2000000,
} as const;

/** mount_setattr(2) attributes, used by the recursive ("r"-prefixed) options. */
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8,
  /** Mask covering the three atime modes below. */
  _ATIME: 0x70, RELATIME: 0x0, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, IDMAP: 0x100000, NOSYMFOLLOW: 0x200000,
} as const;

export type MountOptionKind =
  /** mount(2) flag: set `flag`, or clear it when `clear`. */
  | 'flag'
  /** Propagation change, applied with its own mount(2) call after mounting. */
  | 'propagation'
  /** mount_setattr(2) with AT_RECURSIVE: `flag` is a MOUNT_ATTR_* value. */
  | 'recursive'
  /** Non-kernel extension handled by the runtime itself. */
  | 'extension';

export interface MountOptionDef {
  kind: MountOptionKind;
  flag: number;
  clear?: boolean;
}

const f = (flag: number, clear = false): MountOptionDef => (clear ? { kind: 'flag', flag, clear } : { kind: 'flag', flag });
const p = (flag: number): MountOptionDef => ({ kind: 'propagation', flag });
const r = (flag: number, clear = false): MountOptionDef => (clear ? { kind: 'recursive', flag, clear } : { kind: 'recursive', flag });
const x: MountOptionDef = { kind: 'extension', flag: 0 };

/** Every mount option name the runtime recognises; anything else is filesystem data. */
export const MOUNT_OPTIONS: Readonly<Record<string, MountOptionDef>> = table({
  defaults: f(0),
  ro: f(MS.RDONLY), rw: f(MS.RDONLY, true),
  nosuid: f(MS.NOSUID), suid: f(MS.NOSUID, true),
  nodev: f(MS.NODEV), dev: f(MS.NODEV, true),
  noexec: f(MS.NOEXEC), exec: f(MS.NOEXEC, true),
  sync: f(MS.SYNCHRONOUS), async: f(MS.SYNCHRONOUS, true),
  dirsync: f(MS.DIRSYNC),
  remount: f(MS.REMOUNT),
  mand: f(MS.MANDLOCK), nomand: f(MS.MANDLOCK, true),
  noatime: f(MS.NOATIME), atime: f(MS.NOATIME, true),
  nodiratime: f(MS.NODIRATIME), diratime: f(MS.NODIRATIME, true),
  relatime: f(MS.RELATIME), norelatime: f(MS.RELATIME, true),
  strictatime: f(MS.STRICTATIME), nostrictatime: f(MS.STRICTATIME, true),
  lazytime: f(MS.LAZYTIME), nolazytime: f(MS.LAZYTIME, true),
  iversion: f(MS.I_VERSION), noiversion: f(MS.I_VERSION, true),
  nosymfollow: f(MS.NOSYMFOLLOW), symfollow: f(MS.NOSYMFOLLOW, true),
  bind: f(MS.BIND), rbind: f(MS.BIND | MS.REC),
  silent: f(MS.SILENT), loud: f(MS.SILENT, true),

  shared: p(MS.SHARED), rshared: p(MS.SHARED | MS.REC),
  slave: p(MS.SLAVE), rslave: p(MS.SLAVE | MS.REC),
  private: p(MS.PRIVATE), rprivate: p(MS.PRIVATE | MS.REC),
  unbindable: p(MS.UNBINDABLE), runbindable: p(MS.UNBINDABLE | MS.REC),

  rro: r(MOUNT_ATTR.RDONLY), rrw: r(MOUNT_ATTR.RDONLY, true),
  rnosuid: r(MOUNT_ATTR.NOSUID), rsuid: r(MOUNT_ATTR.NOSUID, true),
  rnodev: r(MOUNT_ATTR.NODEV), rdev: r(MOUNT_ATTR.NODEV, true),
  rnoexec: r(MOUNT_ATTR.NOEXEC), rexec: r(MOUNT_ATTR.NOEXEC, true),
  rnodiratime: r(MOUNT_ATTR.NODIRATIME), rdiratime: r(MOUNT_ATTR.NODIRATIME, true),
  // The atime modes share one field; the planner must also clear MOUNT_ATTR._ATIME
  // when setting one of these (RELATIME is 0, so "rnorelatime" clears nothing).
  rrelatime: r(MOUNT_ATTR.RELATIME), rnorelatime: r(MOUNT_ATTR.RELATIME, true),
  rnoatime: r(MOUNT_ATTR.NOATIME), ratime: r(MOUNT_ATTR.NOATIME, true),
  rstrictatime: r(MOUNT_ATTR.STRICTATIME), rnostrictatime: r(MOUNT_ATTR.STRICTATIME, true),
  rnosymfollow: r(MOUNT_ATTR.NOSYMFOLLOW), rsymfollow: r(MOUNT_ATTR.NOSYMFOLLOW, true),

  tmpcopyup: x, idmap: x, ridmap: x,
});

/**
 * linux.rootfsPropagation, applied to "/" before the rootfs is bound (in
 * place of the default rslave) and again after pivot_root. The spec's plain
 * names change the root mount only (as in runc), so the mounts' own
 * propagation options still hold; the "r" forms reach every mount.
 */
export const ROOTFS_PROPAGATION: Readonly<Record<string, number>> = table({
  shared: MS.SHARED, slave: MS.SLAVE,
  private: MS.PRIVATE, unbindable: MS.UNBINDABLE,
  rshared: MS.SHARED | MS.REC, rslave: MS.SLAVE | MS.REC,
  rprivate: MS.PRIVATE | MS.REC, runbindable: MS.UNBINDABLE | MS.REC,
});

// -------------------------------------------------------------- capabilities

/** Capability number = index. */
export const CAPABILITY_NAMES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID',
  'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE',
  'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

export const CAPABILITIES: ReadonlyMap<string, number> = new Map(CAPABILITY_NAMES.map((n, i) => [n, i]));

export const CAPABILITY_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

// ------------------------------------------------------------------- rlimits

/** RLIMIT_* number = index (Linux, all architectures ocirun targets). */
export const RLIMIT_NAMES: readonly string[] = [
  'RLIMIT_CPU', 'RLIMIT_FSIZE', 'RLIMIT_DATA', 'RLIMIT_STACK', 'RLIMIT_CORE',
  'RLIMIT_RSS', 'RLIMIT_NPROC', 'RLIMIT_NOFILE', 'RLIMIT_MEMLOCK', 'RLIMIT_AS',
  'RLIMIT_LOCKS', 'RLIMIT_SIGPENDING', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE',
  'RLIMIT_RTPRIO', 'RLIMIT_RTTIME',
];

export const RLIMITS: ReadonlyMap<string, number> = new Map(RLIMIT_NAMES.map((n, i) => [n, i]));

// --------------------------------------------------------------------- hooks

export const HOOK_NAMES = [
  'prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

// ------------------------------------------------------------------- seccomp

/**
 * libseccomp's SCMP_ACT_* values (the kernel's SECCOMP_RET_* actions); ERRNO
 * and TRACE carry errnoRet in the low 16 bits. SCMP_ACT_KILL is KILL_THREAD.
 */
export const SECCOMP_ACTION_VALUES: Readonly<Record<string, number>> = table({
  SCMP_ACT_KILL: 0x0000_0000, SCMP_ACT_KILL_THREAD: 0x0000_0000, SCMP_ACT_KILL_PROCESS: 0x8000_0000,
  SCMP_ACT_TRAP: 0x0003_0000, SCMP_ACT_ERRNO: 0x0005_0000, SCMP_ACT_TRACE: 0x7ff0_0000,
  SCMP_ACT_LOG: 0x7ffc_0000, SCMP_ACT_ALLOW: 0x7fff_0000, SCMP_ACT_NOTIFY: 0x7fc0_0000,
});
export const SECCOMP_ACTIONS: readonly string[] = Object.keys(SECCOMP_ACTION_VALUES);

/** libseccomp's enum scmp_compare. */
export const SECCOMP_OPERATOR_VALUES: Readonly<Record<string, number>> = table({
  SCMP_CMP_NE: 1, SCMP_CMP_LT: 2, SCMP_CMP_LE: 3, SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5, SCMP_CMP_GT: 6, SCMP_CMP_MASKED_EQ: 7,
});
export const SECCOMP_OPERATORS: readonly string[] = Object.keys(SECCOMP_OPERATOR_VALUES);

/**
 * OCI architecture -> libseccomp's name for it (seccomp_arch_resolve_name), or
 * null when the libseccomp linked into ocirun-init (2.5.4) does not know it.
 */
export const SECCOMP_ARCH_NAMES: Readonly<Record<string, string | null>> = table<string | null>({
  SCMP_ARCH_X86: 'x86', SCMP_ARCH_X86_64: 'x86_64', SCMP_ARCH_X32: 'x32',
  SCMP_ARCH_ARM: 'arm', SCMP_ARCH_AARCH64: 'aarch64',
  SCMP_ARCH_MIPS: 'mips', SCMP_ARCH_MIPS64: 'mips64', SCMP_ARCH_MIPS64N32: 'mips64n32',
  SCMP_ARCH_MIPSEL: 'mipsel', SCMP_ARCH_MIPSEL64: 'mipsel64', SCMP_ARCH_MIPSEL64N32: 'mipsel64n32',
  SCMP_ARCH_PPC: 'ppc', SCMP_ARCH_PPC64: 'ppc64', SCMP_ARCH_PPC64LE: 'ppc64le',
  SCMP_ARCH_S390: 's390', SCMP_ARCH_S390X: 's390x',
  SCMP_ARCH_PARISC: 'parisc', SCMP_ARCH_PARISC64: 'parisc64',
  SCMP_ARCH_RISCV64: 'riscv64',
  SCMP_ARCH_LOONGARCH64: null,
});
export const SECCOMP_ARCHES: readonly string[] = Object.keys(SECCOMP_ARCH_NAMES);

/**
 * SECCOMP_FILTER_FLAG_* bits and the kernel that introduced each. TSYNC is
 * accepted and dropped, as runc does: the init is single-threaded, and the
 * kernel refuses TSYNC together with a notify listener.
 */
export const SECCOMP_FLAG_VALUES: Readonly<Record<string, { bit: number; since: [number, number] }>> = table({
  SECCOMP_FILTER_FLAG_TSYNC: { bit: 0, since: [3, 17] },
  SECCOMP_FILTER_FLAG_LOG: { bit: 1 << 1, since: [4, 14] },
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: { bit: 1 << 2, since: [4, 17] },
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: { bit: 1 << 5, since: [5, 19] },
});
export const SECCOMP_FLAGS: readonly string[] = Object.keys(SECCOMP_FLAG_VALUES);

// --------------------------------------------------------- process extras

export const SCHED_POLICIES: Readonly<Record<string, number>> = table({
  SCHED_OTHER: 0, SCHED_FIFO: 1, SCHED_RR: 2, SCHED_BATCH: 3, SCHED_ISO: 4, SCHED_IDLE: 5, SCHED_DEADLINE: 6,
});

export const SCHED_FLAGS: Readonly<Record<string, number>> = table({
  SCHED_FLAG_RESET_ON_FORK: 0x01, SCHED_FLAG_RECLAIM: 0x02, SCHED_FLAG_DL_OVERRUN: 0x04,
  SCHED_FLAG_KEEP_POLICY: 0x08, SCHED_FLAG_KEEP_PARAMS: 0x10,
  SCHED_FLAG_UTIL_CLAMP_MIN: 0x20, SCHED_FLAG_UTIL_CLAMP_MAX: 0x40,
});

/** IOPRIO_CLASS_*; the ioprio value is class << 13 | level. */
export const IOPRIO_CLASSES: Readonly<Record<string, number>> = table({
  IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3,
});

/** linux.personality.domain -> personality(2) persona (PER_LINUX, PER_LINUX32). */
export const PERSONALITY_DOMAINS: Readonly<Record<string, number>> = table({ LINUX: 0x0000, LINUX32: 0x0008 });

// ------------------------------------------------------------- time offsets

/** Clock ids accepted as linux.timeOffsets keys (CLOCK_MONOTONIC, CLOCK_BOOTTIME). */
export const TIME_OFFSET_CLOCKS: Readonly<Record<string, number>> = table({ monotonic: 1, boottime: 7 });

// ---------------------------------------------------------------- sysctl

/**
 * Which namespace makes a sysctl private to the container; keys not covered
 * here would change the host and are refused (as runc does).
 */
export function sysctlNamespace(key: string): NamespaceType | undefined {
  if (key.startsWith('net.')) return 'network';
  if (key.startsWith('fs.mqueue.')) return 'ipc';
  if (/^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(key)) return 'ipc';
  if (key === 'kernel.hostname' || key === 'kernel.domainname') return 'uts';
  return undefined;
}
