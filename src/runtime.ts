// The Runtime: ocirun as a library for long-lived Node agents. Every lifecycle
// step runs in this process (no CLI spawned per operation) while every
// namespace operation still happens in the helper. The state directory is the
// CLI's, so containers made by one are visible to and controllable by the other.
import { createContext, type RuntimeContext } from './context.js';
import { OciError, SystemError } from './errors.js';
import { createContainer } from './lifecycle/create.js';
import { deleteContainer } from './lifecycle/delete.js';
import { startExec } from './lifecycle/exec.js';
import { killContainer } from './lifecycle/kill.js';
import { openInit, waitExit } from './lifecycle/process.js';
import { containerState, listContainers, toState } from './lifecycle/query.js';
import { startContainer } from './lifecycle/start.js';
import { native } from './native/binding.js';
import { eventStream } from './api/events.js';
import { pauseContainer, resumeContainer } from './lifecycle/pause.js';
import { containerPids } from './lifecycle/ps.js';
import { containerStats } from './lifecycle/stats.js';
import { updateContainer } from './lifecycle/update.js';
import type { Stats } from './cgroups/stats.js';
import type { LinuxResources } from './oci/types.js';
import { closeQuietly, ExitTracker, toStatus, UNKNOWN_EXIT, type Tracked } from './api/exits.js';
import type {
  ContainerState, CreatedContainer, CreateOptions, DeleteOptions, EventsOptions, ExecOptions, ExitStatus,
  RunOptions, RuntimeEvent, RuntimeOptions, WaitOptions,
} from './api/types.js';
import type { ContainerRecord } from './state/store.js';

export type * from './api/types.js';

/** Errors with an errno become SystemError (code, errno, syscall, path); OciErrors pass through. */
async function api<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw SystemError.from(err);
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined, onAbort?: () => void): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    onAbort?.();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolvePromise, reject) => {
    const abort = (): void => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', abort); resolvePromise(v); },
      (e) => { signal.removeEventListener('abort', abort); reject(e); },
    );
  });
}

function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string' || value === '') {
    throw new OciError('ERR_INVALID_ARGUMENT', `${what} must be a non-empty string`);
  }
}

export class Runtime {
  /** The state directory (the CLI's --root). */
  readonly root: string;
  private readonly ctx: RuntimeContext;
  private readonly exits = new ExitTracker();

  constructor(opts: RuntimeOptions = {}) {
    this.ctx = createContext({ root: opts.root, logger: opts.logger, debug: opts.debug, rootless: opts.rootless, cgroupManager: opts.cgroupManager });
    this.root = this.ctx.root;
  }

  /**
   * Creates a container from a bundle directory; it waits for start(). From
   * here on this Runtime watches its init, so its exit status is kept for
   * wait() and events() however early it exits. While it lives, the container
   * keeps the event loop alive, as a child process does.
   */
  create(id: string, bundle: string, opts: CreateOptions = {}): Promise<CreatedContainer> {
    return api(async () => {
      checkString(bundle, 'bundle');
      const created = await createContainer(this.ctx, id, {
        bundle, stdio: opts.stdio, pidFile: opts.pidFile, noPivot: opts.noPivot, config: opts.config, timing: opts.timing,
      });
      try {
        if (created.pidfd >= 0) this.exits.track(created.record, created.pidfd, true);
      } finally {
        closeQuietly(created.pidfd);
      }
      const state: CreatedContainer = toState(this.ctx, created.record);
      if (created.timings) state.timings = created.timings;
      return state;
    });
  }

  /** Runs the user process of a created container. */
  start(id: string): Promise<void> {
    return api(async () => {
      await startContainer(this.ctx, id);
    });
  }

  /**
   * create + start + wait, then delete (unless `keep`). Resolves with the exit
   * status. Aborting `signal` kills and deletes the container and rejects.
   */
  run(id: string, bundle: string, opts: RunOptions = {}): Promise<ExitStatus> {
    return api(async () => {
      const { signal, keep, ...createOpts } = opts;
      signal?.throwIfAborted();
      await this.create(id, bundle, createOpts);
      let status: ExitStatus;
      try {
        await this.start(id);
        status = await this.wait(id, { signal });
      } catch (err) {
        // The failure (or the abort) is what the caller needs to see, not a cleanup error.
        await this.delete(id, { force: true }).catch(() => {});
        throw err;
      }
      if (!keep) await this.delete(id, { force: true });
      return status;
    });
  }

  /**
   * Resolves with the exit status once the container's init has exited (at
   * once if it already has). Exact for containers this Runtime created; for
   * others it still waits, but the status is { known: false } (see ExitStatus).
   * Aborting `signal` rejects with its reason and leaves the container alone.
   */
  wait(id: string, opts: WaitOptions = {}): Promise<ExitStatus> {
    return api(async () => {
      opts.signal?.throwIfAborted();
      let record: ContainerRecord | undefined;
      try {
        record = this.ctx.store.read(id);
      } catch (err) {
        // Deleted (say by the CLI) after it exited: what we saw is still true.
        const kept = (err as OciError).code === 'ERR_CONTAINER_NOT_FOUND' ? this.exits.get(id, undefined) : undefined;
        if (!kept) throw err;
        return abortable(kept.exited, opts.signal);
      }
      let entry = this.exits.get(id, record);
      if (!entry) {
        if (record.pid === 0) throw new OciError('ERR_NOT_CREATED', `container "${id}" is still being created`);
        const fd = openInit(record);
        if (fd < 0) return { ...UNKNOWN_EXIT };
        try {
          entry = this.exits.track(record, fd, false);
        } finally {
          closeQuietly(fd);
        }
      }
      const tracked: Tracked = entry;
      tracked.waiters++;
      let released = false;
      const release = (): void => {
        if (!released) this.exits.release(tracked);
        released = true;
      };
      try {
        return await abortable(tracked.exited, opts.signal, release);
      } finally {
        release();
      }
    });
  }

  /**
   * Runs one more process in a created or running container (runc exec) and
   * resolves with its exit status once it has exited. It joins the container's
   * namespaces and cgroups and is this process's child, so the status is always
   * known. Aborting `signal` kills it and rejects. No terminal: process.terminal
   * must be false (use the CLI's exec -t for an interactive shell).
   */
  exec(id: string, opts: ExecOptions): Promise<ExitStatus> {
    return api(async () => {
      const { signal, ...rest } = opts;
      signal?.throwIfAborted();
      if (rest.process?.terminal) {
        throw new OciError('ERR_INVALID_ARGUMENT', 'exec: process.terminal is not supported by the Runtime API');
      }
      const { pidfd } = await startExec(this.ctx, id, { ...rest, tty: false });
      try {
        return toStatus(await waitExit(pidfd, signal));
      } catch (err) {
        if (!signal?.aborted) throw err;
        // Aborted: the process must not outlive the call. It is our child, so this also reaps it.
        try {
          native().pidfdSendSignal(pidfd, 9);
        } catch {
          // already exited
        }
        await waitExit(pidfd);
        throw err;
      } finally {
        closeQuietly(pidfd);
      }
    });
  }

  /**
   * Sends a signal (name, with or without SIG, or number; default SIGTERM) to
   * the init, or with `all` to every process in the container's cgroup.
   */
  kill(id: string, signal: string | number = 'SIGTERM', opts: { all?: boolean } = {}): Promise<void> {
    return api(() => killContainer(this.ctx, id, signal, opts));
  }

  /** Freezes every process of the container (its cgroup); state() then says "paused". */
  pause(id: string): Promise<void> {
    return api(() => pauseContainer(this.ctx, id));
  }

  resume(id: string): Promise<void> {
    return api(() => resumeContainer(this.ctx, id));
  }

  /**
   * New limits for a live container, merged into the ones it has (docs/cgroups.md).
   * Resolves with warnings about settings this cgroup version ignores.
   */
  update(id: string, resources: LinuxResources): Promise<string[]> {
    return api(() => updateContainer(this.ctx, id, resources));
  }

  /** Resource usage in the shape of runc's `events --stats` data (counters as bigints). */
  stats(id: string): Promise<Stats> {
    return api(() => containerStats(this.ctx, id));
  }

  /** Pids of every process in the container's cgroup. */
  processes(id: string): Promise<number[]> {
    return api(() => containerPids(this.ctx, id));
  }

  /**
   * Removes a stopped container and everything create made. A created one is
   * killed first; a running one only with `force`.
   */
  delete(id: string, opts: DeleteOptions = {}): Promise<void> {
    return api(async () => {
      let record: ContainerRecord | undefined;
      try {
        record = this.ctx.store.read(id);
      } catch {
        // Missing or half-made: deleteContainer reports or clears it.
      }
      const entry = record ? this.exits.get(id, record) : undefined;
      if (entry?.owned && entry.status === undefined && record) {
        const status = toState(this.ctx, record).status;
        if (status === 'created' || (status === 'running' && opts.force)) {
          // Killed and collected by our own watch first, so the status it
          // records (and events() reports) is the real one.
          const fd = openInit(record);
          if (fd >= 0) {
            try {
              native().pidfdSendSignal(fd, 9);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
            } finally {
              closeQuietly(fd);
            }
          }
          await entry.exited;
        }
      }
      await deleteContainer(this.ctx, id, { force: opts.force });
      if (entry) this.exits.forget(id);
    });
  }

  /** The OCI state of one container (plus runc's rootfs, created and owner). */
  state(id: string): Promise<ContainerState> {
    return api(() => containerState(this.ctx, id));
  }

  /** Every container under the root, whoever created it. */
  list(): Promise<ContainerState[]> {
    return api(() => {
      const states = listContainers(this.ctx);
      // Containers deleted behind our back (by the CLI) need no memory here.
      const present = new Set(states.map((s) => s.id));
      for (const id of this.exits.ids()) if (!present.has(id)) this.exits.forget(id);
      return states;
    });
  }

  /**
   * Exits of the containers this Runtime watches (those it created, and those
   * it was asked to wait() for), from the moment events() is called. Ends on
   * `break` or when `signal` aborts (next() then rejects with its reason).
   */
  events(opts: EventsOptions = {}): AsyncIterableIterator<RuntimeEvent> {
    return eventStream((push) => this.exits.subscribe(push), opts.signal);
  }
}
