// The init plan: everything the helper must do to build one container, as plain
// data. The planner (src/rootfs, src/process) fills it from a validated config;
// encodePlan() turns it into the record stream described in protocol.ts.
import { HookKind, Tag, MAX_PLAN_BYTES } from './protocol.js';
import { encodeProcessAttrs, type ProcessAttrsPlan } from './plan-process-attrs.js';

export type { ProcessAttrsPlan, SchedulerPlan, SeccompArgPlan, SeccompPlan, SeccompRulePlan } from './plan-process-attrs.js';

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

/** Seccomp, AppArmor and the other extras come from ProcessAttrsPlan (tags 120-169). */
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

/** A hook the helper runs itself (H_KIND). */
export interface HookPlan {
  kind: HookKind;
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

export interface InitPlan {
  namespaces: NamespacePlan[];
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  hostname?: string;
  domainname?: string;
  rootfs: string;
  rootfsReadonly: boolean;
  noPivot: boolean;
  rootPropagation?: number;
  rootfsPropagation?: number;
  mounts: MountPlan[];
  devices: DevicePlan[];
  symlinks: SymlinkPlan[];
  maskedPaths: string[];
  readonlyPaths: string[];
  stateDir: string;
  process: ProcessPlan;
  timeOffsets: TimeOffsetPlan[];
  sysctls: Array<{ key: string; value: string }>;
  debug: boolean;
  /** Ask the helper for phase timestamps (PLAN_TIMING, answered with MSG_TIMING). */
  timing?: boolean;
  hooks?: InitHooksPlan;
  /** process.terminal: where the pty master goes (see ConsolePlan). */
  console?: ConsolePlan;
  /** Exec mode: join the container whose init is behind `targetFd`; rootfs and stateDir are then unused. */
  exec?: ExecTargetPlan;
  /** Where the init goes before it runs anything (src/cgroups, tags 260-279). */
  cgroup?: CgroupPlacementPlan;
}

export interface CgroupPlacementPlan {
  /** v2: clone3 the init into this cgroup directory (CLONE_INTO_CGROUP). */
  dir?: string;
  /** cgroup.procs files the init's pid is written to before it is released. */
  procs: string[];
}

export interface ConsolePlan {
  /** The helper's fd of a connected console socket: 4 + the index of that socket in SpawnOptions.extraFds. */
  socketFd: number;
  /** process.consoleSize, applied when both are given. */
  rows?: number;
  cols?: number;
}

export interface ExecTargetPlan {
  /** The helper's fd of a pidfd of the container's init (4 + its index in extraFds). */
  targetFd: number;
  /** Host cgroup.procs files of the init's cgroups, joined before anything else. */
  cgroupProcs: string[];
}

/** Builds the record stream; each record is u16 tag, u16 zero, u32 length, payload. */
export class Writer {
  private chunks: Buffer[] = [];
  private size = 0;

  private push(tag: number, payload: Buffer): void {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(tag, 0);
    head.writeUInt32LE(payload.length, 4);
    this.chunks.push(head, payload);
    this.size += 8 + payload.length;
  }

  string(tag: number, value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    // The helper hands these to syscalls as C strings.
    if (bytes.includes(0)) throw new TypeError(`NUL byte in plan string for tag ${tag}`);
    this.push(tag, bytes);
  }
  flag(tag: number, on: boolean | undefined): void { if (on) this.push(tag, Buffer.alloc(0)); }
  u32(tag: number, value: number): void {
    const b = Buffer.alloc(4); b.writeUInt32LE(value >>> 0, 0); this.push(tag, b);
  }
  u64(tag: number, value: number | bigint): void {
    const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)), 0); this.push(tag, b);
  }
  i64(tag: number, value: number | bigint): void {
    const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt.asIntN(64, BigInt(value)), 0); this.push(tag, b);
  }
  raw(tag: number, payload: Buffer): void { this.push(tag, payload); }
  nested(tag: number, fill: (w: Writer) => void): void {
    const inner = new Writer();
    fill(inner);
    this.push(tag, inner.toBuffer());
  }
  toBuffer(): Buffer { return Buffer.concat(this.chunks, this.size); }
}

function idMap(m: IdMapping): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(m.containerID, 0); b.writeUInt32LE(m.hostID, 4); b.writeUInt32LE(m.size, 8);
  return b;
}

export function encodePlan(plan: InitPlan): Buffer {
  const w = new Writer();
  for (const ns of plan.namespaces) {
    w.nested(Tag.PLAN_NAMESPACE, (n) => {
      n.u32(Tag.NS_TYPE, ns.type);
      if (ns.path !== undefined) n.string(Tag.NS_PATH, ns.path);
    });
  }
  for (const m of plan.uidMappings) w.raw(Tag.PLAN_UID_MAP, idMap(m));
  for (const m of plan.gidMappings) w.raw(Tag.PLAN_GID_MAP, idMap(m));
  if (plan.hostname !== undefined) w.string(Tag.PLAN_HOSTNAME, plan.hostname);
  if (plan.domainname !== undefined) w.string(Tag.PLAN_DOMAINNAME, plan.domainname);
  if (!plan.exec) w.string(Tag.PLAN_ROOTFS, plan.rootfs);
  w.flag(Tag.PLAN_ROOTFS_READONLY, plan.rootfsReadonly);
  w.flag(Tag.PLAN_NO_PIVOT, plan.noPivot);
  if (plan.rootPropagation !== undefined) w.u64(Tag.PLAN_ROOT_PROPAGATION, plan.rootPropagation);
  if (plan.rootfsPropagation !== undefined) w.u64(Tag.PLAN_ROOTFS_PROPAGATION, plan.rootfsPropagation);
  for (const m of plan.mounts) {
    w.nested(Tag.PLAN_MOUNT, (n) => {
      n.string(Tag.M_DEST, m.dest);
      n.string(Tag.M_SOURCE, m.source);
      n.string(Tag.M_TYPE, m.type);
      n.u64(Tag.M_FLAGS, m.flags);
      n.string(Tag.M_DATA, m.data);
      if (m.remountFlags !== undefined) n.u64(Tag.M_REMOUNT_FLAGS, m.remountFlags);
      for (const p of m.propagation) n.u64(Tag.M_PROPAGATION, p);
      if (m.attrSet !== undefined) n.u64(Tag.M_ATTR_SET, m.attrSet);
      if (m.attrClr !== undefined) n.u64(Tag.M_ATTR_CLR, m.attrClr);
      n.flag(Tag.M_MKDIR_ONLY, m.mkdirOnly);
      if (m.symlink !== undefined) n.string(Tag.M_SYMLINK, m.symlink);
      n.flag(m.idmap === 'ridmap' ? Tag.M_RIDMAP : Tag.M_IDMAP, m.idmap !== undefined);
      for (const u of m.uidMappings ?? []) n.raw(Tag.M_UID_MAP, idMap(u));
      for (const g of m.gidMappings ?? []) n.raw(Tag.M_GID_MAP, idMap(g));
      n.flag(Tag.M_COPYUP, m.copyUp);
    });
  }
  for (const d of plan.devices) {
    w.nested(Tag.PLAN_DEVICE, (n) => {
      n.string(Tag.D_PATH, d.path);
      n.u32(Tag.D_TYPE, d.type);
      n.u64(Tag.D_MAJOR, d.major);
      n.u64(Tag.D_MINOR, d.minor);
      n.u32(Tag.D_MODE, d.mode);
      n.u32(Tag.D_UID, d.uid);
      n.u32(Tag.D_GID, d.gid);
      n.flag(Tag.D_BIND, d.bind);
    });
  }
  for (const l of plan.symlinks) {
    w.nested(Tag.PLAN_SYMLINK, (n) => { n.string(Tag.L_PATH, l.path); n.string(Tag.L_TARGET, l.target); });
  }
  for (const p of plan.maskedPaths) w.string(Tag.PLAN_MASKED_PATH, p);
  for (const p of plan.readonlyPaths) w.string(Tag.PLAN_READONLY_PATH, p);
  if (!plan.exec) w.string(Tag.PLAN_STATE_DIR, plan.stateDir);
  const proc = plan.process;
  w.nested(Tag.PLAN_PROCESS, (n) => {
    for (const a of proc.args) n.string(Tag.P_ARG, a);
    for (const e of proc.env) n.string(Tag.P_ENV, e);
    n.string(Tag.P_CWD, proc.cwd);
    n.u32(Tag.P_UID, proc.uid);
    n.u32(Tag.P_GID, proc.gid);
    for (const g of proc.additionalGids) n.u32(Tag.P_ADDITIONAL_GID, g);
    if (proc.umask !== undefined) n.u32(Tag.P_UMASK, proc.umask);
    n.flag(Tag.P_NO_NEW_PRIVS, proc.noNewPrivileges);
    for (const r of proc.rlimits) {
      const b = Buffer.alloc(24);
      b.writeUInt32LE(r.resource, 0);
      b.writeBigUInt64LE(r.soft, 8);
      b.writeBigUInt64LE(r.hard, 16);
      n.raw(Tag.P_RLIMIT, b);
    }
    if (proc.capabilities) {
      const c = proc.capabilities;
      n.flag(Tag.P_CAPS, true);
      n.u64(Tag.P_CAP_BOUNDING, c.bounding);
      n.u64(Tag.P_CAP_EFFECTIVE, c.effective);
      n.u64(Tag.P_CAP_INHERITABLE, c.inheritable);
      n.u64(Tag.P_CAP_PERMITTED, c.permitted);
      n.u64(Tag.P_CAP_AMBIENT, c.ambient);
    }
    if (proc.oomScoreAdj !== undefined) n.i64(Tag.P_OOM_SCORE_ADJ, proc.oomScoreAdj);
    encodeProcessAttrs(n, proc);
  });
  for (const t of plan.timeOffsets) {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(t.clock, 0);
    b.writeUInt32LE(t.nanosecs, 4);
    b.writeBigInt64LE(t.secs, 8);
    w.raw(Tag.PLAN_TIME_OFFSET, b);
  }
  for (const s of plan.sysctls) {
    w.nested(Tag.PLAN_SYSCTL, (n) => { n.string(Tag.SYSCTL_KEY, s.key); n.string(Tag.SYSCTL_VALUE, s.value); });
  }
  w.flag(Tag.PLAN_DEBUG, plan.debug);
  w.flag(Tag.PLAN_TIMING, plan.timing);
  if (plan.hooks) encodeHooks(w, plan.hooks);
  if (plan.console) {
    w.u32(Tag.PLAN_CONSOLE_SOCKET, plan.console.socketFd);
    const { rows, cols } = plan.console;
    if (rows !== undefined && cols !== undefined) {
      const b = Buffer.alloc(8); b.writeUInt32LE(rows, 0); b.writeUInt32LE(cols, 4); w.raw(Tag.PLAN_CONSOLE_SIZE, b);
    }
  }
  if (plan.exec) {
    w.u32(Tag.PLAN_EXEC_TARGET, plan.exec.targetFd);
    for (const file of plan.exec.cgroupProcs) w.string(Tag.PLAN_EXEC_CGROUP, file);
  }
  if (plan.cgroup?.dir !== undefined) w.string(Tag.PLAN_CGROUP_DIR, plan.cgroup.dir);
  for (const file of plan.cgroup?.procs ?? []) w.string(Tag.PLAN_CGROUP_PROCS, file);
  const out = w.toBuffer();
  if (out.length > MAX_PLAN_BYTES) throw new RangeError(`plan too large: ${out.length} bytes`);
  return out;
}

function encodeHooks(w: Writer, h: InitHooksPlan): void {
  w.flag(Tag.PLAN_HOOKS_PAUSE, h.pauseForRuntimeHooks);
  for (const hook of h.hooks) {
    w.nested(Tag.PLAN_HOOK, (n) => {
      n.u32(Tag.H_KIND, hook.kind);
      n.string(Tag.H_PATH, hook.path);
      for (const a of hook.args ?? []) n.string(Tag.H_ARG, a);
      for (const e of hook.env ?? []) n.string(Tag.H_ENV, e);
      if (hook.timeout !== undefined) n.u32(Tag.H_TIMEOUT, hook.timeout);
    });
  }
  for (const piece of h.stateCreate ?? []) w.string(Tag.PLAN_HOOK_STATE_CREATE, piece);
  for (const piece of h.stateStart ?? []) w.string(Tag.PLAN_HOOK_STATE_START, piece);
}
