// create: validate everything first, then claim the ID, then let the helper
// build the container. Any failure after the claim undoes all of it, so a
// failed create leaves no state dir, process or mount behind.
import { closeSync, writeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import type { RuntimeContext } from '../context.js';
import { loadBundle } from '../config/load.js';
import { OciError } from '../errors.js';
import { encodePlan } from '../native/plan-encode.js';
import { helperPath } from '../native/binding.js';
import { buildInitPlan } from './init-plan.js';
import { heldCapabilities } from '../process/host-checks.js';
import { validateId } from '../state/id.js';
import { readProcStat } from '../state/proc.js';
import { EXEC_FIFO, writeFileAtomic, type ContainerRecord } from '../state/store.js';
import { killAndWait } from './process.js';
import { OCI_VERSION } from '../oci/tables.js';
import { crashPoint } from '../faults.js';
import { PhaseTimer, type Mark } from '../native/timing.js';
import type { Spec } from '../oci/types.js';
import { planInitHooks, runPoststop, RuntimeHookGate } from '../hooks/lifecycle.js';
import { ProcessIo, sendPidfd, type ProcessIoOptions } from '../io/process-io.js';
import { detachHostMounts, hostMountsBefore, usesHostMountNamespace } from '../rootfs/host-mounts.js';
import { cgroupPlacement, finishCgroup, planContainerCgroup, removeCgroup, setupCgroup } from '../cgroups/container.js';
import { ScopePlacement } from '../cgroups/systemd.js';

/** Terminal, --console-socket, --preserve-fds, LISTEN_FDS: see src/io/process-io.ts. */
export interface CreateOptions extends ProcessIoOptions {
  /** --pidfd-socket: a pidfd of the init is sent there (runc's form). */
  pidfdSocket?: string;
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  /** fds that become the container's stdin, stdout, stderr; default 0, 1, 2. */
  stdio?: [number, number, number];
  /** Used instead of <bundle>/config.json (validated the same way). */
  config?: Spec;
  /** Return where the time went, phase by phase (Created.timings). */
  timing?: boolean;
  /**
   * Gives up when aborted (its reason a signal name: run's SIGTERM or
   * SIGINT): runtime hooks are killed, and the create fails as any failed
   * create does, leaving nothing behind, with an interrupted() error.
   */
  signal?: AbortSignal;
}

/** Why a create given up on `signal` failed: exit status 128+N, as if killed by it. */
export function interrupted(signal: AbortSignal): OciError {
  const name = String(signal.reason);
  const signo = (osConstants.signals as Record<string, number>)[name] ?? 0;
  return new OciError('ERR_INTERRUPTED', `interrupted by ${name} before the container was created`, { exitCode: 128 + signo });
}

export interface Created {
  record: ContainerRecord;
  /** pidfd of the init, owned by the caller (close it). -1 if unavailable. */
  pidfd: number;
  /** With `timing`: CLOCK_MONOTONIC marks of this process, the addon and the helper, in order. */
  timings?: Mark[];
  /** With `attached` and process.terminal: the pty master, owned by the caller. */
  terminal?: number;
}

/**
 * The helper pauses (MSG_HOOKS) first in stage 0 when the systemd driver
 * places the init, then at the createRuntime point for the runtime's hooks.
 */
function helperPauses(scope: ScopePlacement | undefined, gate: RuntimeHookGate | undefined): ((pid: number, fd: number) => void) | undefined {
  if (!scope) return gate?.onHooks;
  return (pid, fd) => {
    if (scope.takes()) scope.onPause(pid, fd);
    else if (gate) gate.onHooks(pid, fd);
    else {
      writeSync(fd, 'a');
      closeSync(fd);
    }
  };
}

// Ours never changes: read once, not per create.
let ownStartTime: string | undefined;
const selfStartTime = (): string => (ownStartTime ??= readProcStat(process.pid)?.startTime ?? '');

export async function createContainer(ctx: RuntimeContext, id: string, opts: CreateOptions): Promise<Created> {
  const timer = opts.timing ? new PhaseTimer() : undefined;
  timer?.mark('create.begin');
  validateId(id);
  const { spec, bundle, rootfs, warnings } = await loadBundle(resolve(ctx.caller.cwd, opts.bundle), { config: opts.config, callerPid: ctx.caller.pid });
  timer?.mark('config.loaded');
  for (const w of warnings) ctx.logger.warn(w);
  if (opts.signal?.aborted) throw interrupted(opts.signal);
  const { store } = ctx;
  const stateDir = store.dir(id);
  const cgroup = planContainerCgroup(ctx, spec, id);
  const plan = buildInitPlan(spec, {
    id, helper: helperPath(), bundle, rootfs, stateDir, noPivot: opts.noPivot ?? false, debug: ctx.debug, cgroupDirs: cgroup?.dirs,
    heldCapabilities: heldCapabilities(undefined, (spec.linux?.namespaces ?? []).some((ns) => ns.type === 'user'), ctx.caller.pid),
  });
  plan.timing = opts.timing;
  if (cgroup) plan.cgroup = cgroupPlacement(cgroup, spec);
  const scope = cgroup?.systemd ? new ScopePlacement(cgroup, spec, (m) => ctx.logger.warn(m), ctx.rootless) : undefined;
  const io = new ProcessIo(spec.process!, opts, ctx.caller);
  io.applyTo(plan);
  const hookSource = { ociVersion: OCI_VERSION, id, bundle, annotations: spec.annotations };
  plan.hooks = planInitHooks(spec.hooks, hookSource);
  const gate = RuntimeHookGate.for(spec.hooks, hookSource, ctx.caller, opts.signal);
  timer?.mark('plan.built');
  const planBytes = encodePlan(plan);
  timer?.mark('plan.encoded');
  const helper = helperPath();

  const record: ContainerRecord = {
    ociVersion: OCI_VERSION,
    id,
    pid: 0,
    pidStartTime: '',
    creatorPid: process.pid,
    creatorStartTime: selfStartTime(),
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: '',
    annotations: spec.annotations ?? {},
    config: spec,
    ...(cgroup ? { cgroup } : {}),
    ...(usesHostMountNamespace(spec) ? { hostMounts: hostMountsBefore(rootfs) } : {}),
  };
  store.claim(record);
  crashPoint(ctx, 'create:claimed');
  timer?.mark('state.claimed');
  let pidfd = -1;
  let controlFd = -1;
  try {
    return await store.withLock(id, async () => {
      if (cgroup) for (const w of setupCgroup(cgroup, spec, ctx.caller.pid, ctx.rootless)) ctx.logger.warn(w);
      timer?.mark('cgroups.made');
      ctx.logger.debug(`create ${id}: starting init helper`);
      let spawned;
      try {
        spawned = await ctx.caller.spawn({
          helper, plan: planBytes, stdio: opts.stdio ?? [...ctx.caller.stdio], timing: opts.timing,
          onHooks: helperPauses(scope, gate), extraFds: io.open(),
        });
      } catch (err) {
        // A failed scope or prestart/createRuntime hook is why the helper gave up.
        throw (await scope?.failure()) ?? (await gate?.failure()) ?? err;
      }
      ({ pidfd, controlFd } = spawned);
      // Nothing to hold the signal for: the container is not recorded yet, and will not be.
      if (opts.signal?.aborted) throw interrupted(opts.signal);
      timer?.add(spawned.timings);
      crashPoint(ctx, 'create:spawned');
      for (const w of spawned.warnings) ctx.logger.warn(w);
      const stat = readProcStat(spawned.pid);
      if (!stat) throw new Error(`container init (pid ${spawned.pid}) exited during create`);
      record.pid = spawned.pid;
      record.pidStartTime = stat.startTime;
      if (cgroup) finishCgroup(cgroup, spec);
      store.write(record);
      crashPoint(ctx, 'create:recorded');
      // Recorded: from now on the container may outlive us.
      writeSync(controlFd, 'c');
      closeSync(controlFd);
      controlFd = -1;
      crashPoint(ctx, 'create:committed');
      if (opts.pidFile) writeFileAtomic(resolve(ctx.caller.cwd, opts.pidFile), String(record.pid), ctx.caller.fileMode);
      if (opts.pidfdSocket !== undefined) sendPidfd(resolve(ctx.caller.cwd, opts.pidfdSocket), pidfd);
      ctx.logger.debug(`create ${id}: init pid ${record.pid} waiting on ${EXEC_FIFO}`);
      timer?.mark('create.done');
      return { record, pidfd, timings: timer?.result(), terminal: io.takeMaster() };
    });
  } catch (err) {
    if (controlFd >= 0) closeSync(controlFd);
    if (pidfd >= 0) await killAndWait(pidfd);
    if (record.hostMounts) detachHostMounts(record.hostMounts);
    // The failure is what the caller needs to hear about; a cgroup that will not go only warns.
    await removeCgroup(cgroup).catch((e: Error) => ctx.logger.warn(e.message));
    store.remove(id);
    // Torn down as if deleted, so poststop hooks run too (as runc's destroy does).
    await runPoststop(spec.hooks, hookSource, (m) => ctx.logger.warn(m), ctx.caller);
    throw opts.signal?.aborted ? interrupted(opts.signal) : err;
  } finally {
    io.close();
  }
}
