// exec: one more process in a created or running container, as `runc exec`.
//
// The process starts from the container's own (the config recorded at
// create) with the caller's overrides, or is a whole OCI process object
// (--process). The helper runs in exec mode (native/init/exec_mode.cc): it
// joins the init's cgroups and namespaces and forks, so the process is our
// child inside the pid namespace; we wait for it unless detached.
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import type { RuntimeContext } from '../context.js';
import { ConfigError, OciError, formatProblem } from '../errors.js';
import { crashPoint } from '../faults.js';
import { MAX_CONFIG_BYTES, READ_ANY_FILE } from '../config/load.js';
import { validateSpec } from '../config/validate.js';
import { helperPath, native } from '../native/binding.js';
import { encodePlan } from '../native/plan-encode.js';
import type { ExecPlan } from '../native/plan-schema.js';
import { NAMESPACES } from '../oci/tables.js';
import type { Process, Spec } from '../oci/types.js';
import { planProcess } from '../process/process-plan.js';
import { usesHostMountNamespace } from '../rootfs/host-mounts.js';
import { heldCapabilities, missingCapabilities, notHeldMessage } from '../process/host-checks.js';
import { deriveStatus } from '../state/status.js';
import { writeFileAtomic, type ContainerRecord } from '../state/store.js';
import { ProcessIo, sendPidfd, type ProcessIoOptions } from '../io/process-io.js';
import { AttachedTerminal, copyWindowSize } from '../io/terminal.js';
import { execCgroupPlacement } from '../cgroups/join.js';
import { buildInitPlan } from './init-plan.js';
import { exitCodeOf, openInit, SignalForwarder, waitExit } from './process.js';

/** The /proc/<pid>/ns names of the config's namespace types. */
const NS_FILES: Record<string, string> = {
  pid: 'pid', network: 'net', mount: 'mnt', ipc: 'ipc', uts: 'uts', user: 'user', cgroup: 'cgroup', time: 'time',
};

export interface ExecProcessOverrides {
  /** The command; required unless `process` is given. */
  args?: string[];
  /** Added to the container's environment; a name already there is replaced. */
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  additionalGids?: number[];
  /** Added to the bounding, effective and permitted sets (and ambient when the config has inheritable ones). */
  caps?: string[];
  noNewPrivileges?: boolean;
  /** -t: allocate a terminal (the container's own `terminal` setting is not inherited). */
  tty?: boolean;
  apparmorProfile?: string;
  /** --process-label; planned only where SELinux is on. */
  selinuxLabel?: string;
}

export interface ExecOptions extends ExecProcessOverrides, Omit<ProcessIoOptions, 'attached' | 'listenFds'> {
  /** --process: the whole process object; the overrides above are then not used (as in runc). */
  process?: Process;
  /** -d: return once the process has started. */
  detach?: boolean;
  pidFile?: string;
  pidfdSocket?: string;
  /** Exec even into a paused container (runc's --ignore-paused); the process then waits, frozen, for resume. */
  ignorePaused?: boolean;
  /** fds that become the process's stdin, stdout, stderr; default 0, 1, 2. */
  stdio?: [number, number, number];
  /** Signals delivered to this process that are passed on to the exec'd process. */
  forwardSignals?: NodeJS.Signals[];
}

export interface ExecStarted {
  /** The process's pid in the runtime's pid namespace. */
  pid: number;
  /** A pidfd for it (the caller closes it); it is our child, so waitExit() gets its status. */
  pidfd: number;
  /** Attached with a terminal: the pty master, owned by the caller. */
  terminal?: number;
}

/** runc's getProcess for the flags case: the container's process with the caller's changes. */
export function execProcessFrom(config: Spec, o: ExecProcessOverrides): Process {
  if (!config.process) throw new OciError('ERR_INVALID_CONFIG', 'the container has no process to start from');
  const base = structuredClone(config.process);
  const p: Process = { ...base, args: o.args ?? [], terminal: o.tty ?? false, user: { ...base.user } };
  if (!p.terminal) delete p.consoleSize;
  if (o.cwd !== undefined) p.cwd = o.cwd;
  if (o.apparmorProfile !== undefined) p.apparmorProfile = o.apparmorProfile;
  if (o.selinuxLabel !== undefined) p.selinuxLabel = o.selinuxLabel;
  if (o.noNewPrivileges !== undefined) p.noNewPrivileges = o.noNewPrivileges;
  if (o.uid !== undefined) p.user.uid = o.uid;
  if (o.gid !== undefined) p.user.gid = o.gid;
  if (o.additionalGids?.length) p.user.additionalGids = [...(p.user.additionalGids ?? []), ...o.additionalGids];
  const env = [...(p.env ?? [])];
  for (const e of o.env ?? []) {
    const name = e.split('=', 1)[0];
    const at = env.findIndex((x) => x.split('=', 1)[0] === name);
    if (at >= 0) env[at] = e;
    else env.push(e);
  }
  p.env = env;
  if (o.caps?.length) {
    const c = { ...(p.capabilities ?? {}) };
    const add = (set: string[] | undefined): string[] => [...new Set([...(set ?? []), ...o.caps!])];
    c.bounding = add(c.bounding);
    c.effective = add(c.effective);
    c.permitted = add(c.permitted);
    // The kernel refuses ambient capabilities that are not inheritable too.
    if (c.inheritable !== undefined) c.ambient = add(c.ambient);
    p.capabilities = c;
  }
  return p;
}

/** Reads a --process file: one line naming what is wrong. */
export function readProcessFile(file: string, cwd = process.cwd()): Process {
  let text: string;
  try {
    const fd = openSync(resolve(cwd, file), READ_ANY_FILE);
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size > MAX_CONFIG_BYTES) throw new Error(`too large (${st.size} bytes, limit ${MAX_CONFIG_BYTES})`);
      text = readFileSync(fd, 'utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw new OciError('ERR_INVALID_ARGUMENT', `--process ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    return JSON.parse(text) as Process;
  } catch (err) {
    throw new OciError('ERR_INVALID_ARGUMENT', `--process ${file}: invalid JSON (${(err as Error).message})`);
  }
}

/** The process as the validator sees it inside the container's config: errors name process.* paths. */
function validated(config: Spec, p: Process): Process {
  const { spec, problems } = validateSpec({ ...config, process: p }, { requireProcess: true });
  if (problems.length > 0) throw new ConfigError(problems);
  if (!spec.process?.args?.length) throw new ConfigError([{ path: 'process.args', message: 'exec needs a command to run' }]);
  return spec.process;
}

function buildExecPlan(ctx: RuntimeContext, record: ContainerRecord, p: Process, targetFd: number): ExecPlan {
  const config: Spec = { ...record.config, process: p };
  const held = heldCapabilities(undefined, (config.linux?.namespaces ?? []).some((ns) => ns.type === 'user'), ctx.caller.pid);
  // Once per container: what the config asked for and did not get was said at create.
  const warned = new Set(missingCapabilities(record.config.process?.capabilities, held));
  const missing = missingCapabilities(p.capabilities, held).filter((c) => !warned.has(c));
  if (missing.length > 0) ctx.logger.warn(formatProblem({ path: 'process.capabilities', message: notHeldMessage(missing) }));
  // The create planner decides the container-wide parts (seccomp, personality) exactly as for the init.
  const full = buildInitPlan(config, {
    id: record.id, bundle: record.bundle, rootfs: record.rootfs, stateDir: ctx.store.dir(record.id), noPivot: false, debug: ctx.debug,
  });
  return {
    mode: 'exec',
    namespaces: (config.linux?.namespaces ?? []).map((ns) => ({
      type: NAMESPACES[ns.type], path: `/proc/${record.pid}/ns/${NS_FILES[ns.type]}`,
    })),
    process: { ...full.process, ...planProcess(p, 'exec', held) },
    debug: ctx.debug,
    targetFd,
    cgroup: execCgroupPlacement(record.pid, ctx.caller.pid, {
      joinsCgroupNamespace: (config.linux?.namespaces ?? []).some((ns) => ns.type === 'cgroup'),
      // The daemon serves only callers of its own uid.
      root: process.geteuid?.() === 0,
    }),
    // No mount namespace to join (runc's chroot mode): the process chroots where the init did.
    ...(usesHostMountNamespace(config) ? { root: `/proc/${record.pid}/root` } : {}),
  };
}

/**
 * Starts the process and resolves once it has exec'd its program (a failure
 * to get that far rejects, with nothing left running). Does not wait for it.
 */
export async function startExec(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<ExecStarted> {
  const record = ctx.store.read(id);
  const status = deriveStatus(ctx.store, record);
  if (status === 'stopped') throw new OciError('ERR_NOT_RUNNING', 'cannot exec in a stopped container');
  if (status === 'creating') throw new OciError('ERR_NOT_RUNNING', `container "${id}" is still being created`);
  // runc's refusal: the new process would join a frozen cgroup and hang there.
  if (status === 'paused' && !opts.ignorePaused) throw new OciError('ERR_NOT_RUNNING', 'cannot exec in a paused container (use --ignore-paused)');
  const p = validated(record.config, opts.process ?? execProcessFrom(record.config, opts));
  const io = new ProcessIo(p, { consoleSocket: opts.consoleSocket, preserveFds: opts.preserveFds, attached: !opts.detach }, ctx.caller);
  const target = openInit(record);
  if (target < 0) throw new OciError('ERR_NOT_RUNNING', 'cannot exec in a stopped container');
  let pidfd = -1;
  let controlFd = -1;
  try {
    const extra = io.open();
    const plan = buildExecPlan(ctx, record, p, 4 + extra.length);
    io.applyTo(plan);
    const spawned = await ctx.caller.spawn({
      helper: helperPath(), plan: encodePlan(plan), stdio: opts.stdio ?? [...ctx.caller.stdio], extraFds: [...extra, target],
    });
    ({ pidfd, controlFd } = spawned);
    for (const w of spawned.warnings) ctx.logger.warn(w);
    const terminal = io.takeMaster();
    // Before the process runs: its first look at the terminal sees the right size.
    if (terminal !== undefined) copyWindowSize([opts.stdio?.[0] ?? ctx.caller.stdio[0], opts.stdio?.[1] ?? ctx.caller.stdio[1]], terminal);
    crashPoint(ctx, 'exec:spawned');
    writeSync(controlFd, 'c');
    const cfd = controlFd;
    controlFd = -1;
    try {
      await native().awaitExec(cfd);
    } catch (err) {
      if (terminal !== undefined) closeSync(terminal);
      throw err;
    }
    if (opts.pidFile) writeFileAtomic(resolve(ctx.caller.cwd, opts.pidFile), String(spawned.pid), ctx.caller.fileMode);
    if (opts.pidfdSocket !== undefined) sendPidfd(resolve(ctx.caller.cwd, opts.pidfdSocket), pidfd);
    ctx.logger.debug(`exec ${id}: pid ${spawned.pid}`);
    return { pid: spawned.pid, pidfd, terminal };
  } catch (err) {
    if (controlFd >= 0) closeSync(controlFd);
    if (pidfd >= 0) {
      // Not ours to leave behind: it is our child, so this also reaps it.
      try { native().pidfdSendSignal(pidfd, constants.signals.SIGKILL); } catch { /* already gone */ }
      await waitExit(pidfd);
      closeSync(pidfd);
    }
    throw err;
  } finally {
    closeSync(target);
    io.close();
  }
}

/** runc exec: the process's exit code (128+N for signal N); 0 at once when detached. */
export async function execProcess(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<number> {
  const forwarded = opts.detach ? [] : opts.forwardSignals ?? [];
  // SIGWINCH is the attached terminal's to handle when there is one: decided after start.
  const signals = new SignalForwarder(forwarded.filter((s) => s !== 'SIGWINCH'), ctx.caller.signals);
  let pidfd = -1;
  let tty: AttachedTerminal | undefined;
  try {
    const started = await startExec(ctx, id, opts);
    pidfd = started.pidfd;
    if (opts.detach) return 0;
    const { terminal } = started;
    tty = terminal === undefined ? undefined
      : new AttachedTerminal(terminal, { input: opts.stdio?.[0] ?? ctx.caller.stdio[0], output: opts.stdio?.[1] ?? ctx.caller.stdio[1], signals: ctx.caller.signals });
    if (!tty && forwarded.includes('SIGWINCH')) signals.listen('SIGWINCH');
    signals.target(pidfd);
    const status = await ctx.caller.waitExit(started.pid, pidfd);
    return exitCodeOf(status);
  } finally {
    await tty?.finish();
    signals.dispose();
    if (pidfd >= 0) closeSync(pidfd);
  }
}
