// Signalling and waiting for a container's init without ever hitting a reused pid.
import { closeSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { native, type ExitStatus } from '../native/binding.js';
import { isSameLiveProcess } from '../state/proc.js';
import type { ContainerRecord } from '../state/store.js';
import type { SignalSource } from '../caller.js';

/**
 * Opens a pidfd for the record's init, or returns -1 if that process is gone.
 * The start time is checked after pidfd_open, so the fd cannot name a newer process.
 */
export function openInit(record: ContainerRecord): number {
  if (!isSameLiveProcess(record.pid, record.pidStartTime)) return -1;
  const fd = openPid(record.pid);
  if (fd >= 0 && !isSameLiveProcess(record.pid, record.pidStartTime)) {
    closeSync(fd);
    return -1;
  }
  return fd;
}

/** A pidfd for pid, or -1 if it is gone. */
export function openPid(pid: number): number {
  try {
    return native().pidfdOpen(pid);
  } catch {
    return -1;
  }
}

/** Resolves when the process behind pidfd has exited (reaped if it is our child). */
export function waitExit(pidfd: number, signal?: AbortSignal): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let watch = 0;
    // Unwatched so that an abandoned wait no longer keeps the event loop alive.
    const onAbort = (): void => {
      native().unwatchExit(watch);
      reject(signal?.reason);
    };
    watch = native().watchExit(pidfd, (status) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(status);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** SIGKILLs the process and waits until it is gone; closes pidfd. */
export async function killAndWait(pidfd: number): Promise<void> {
  try {
    try {
      native().pidfdSendSignal(pidfd, 9);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    await waitExit(pidfd);
  } finally {
    closeSync(pidfd);
  }
}

/** Shell convention: the exit code, or 128 + the signal that killed the process. */
export function exitCodeOf(status: ExitStatus): number {
  if (status.exitCode !== null) return status.exitCode;
  if (status.signal !== null) return 128 + status.signal;
  return 255;
}

/**
 * Passes the signals this process receives on to a container process. It
 * listens from construction, before the target exists: a signal that arrives
 * while the process is being set up is held and delivered once it has a
 * target (set with `target`), never lost and never fatal to the runtime.
 */
const signalNames = new Map<number, NodeJS.Signals>(
  Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** SIGTERM for 15; undefined for a number Node has no name for. */
export function signalName(signo: number): NodeJS.Signals | undefined {
  return signalNames.get(signo);
}

export class SignalForwarder {
  private pidfd = -1;
  private readonly pending: number[] = [];
  private readonly handlers: Array<[NodeJS.Signals, () => void]> = [];

  constructor(signals: readonly NodeJS.Signals[], private readonly source: SignalSource = process) {
    for (const sig of signals) this.listen(sig);
  }

  listen(sig: NodeJS.Signals): void {
    const handler = (): void => {
      const signo = osConstants.signals[sig];
      if (this.pidfd < 0) this.pending.push(signo);
      else this.send(signo);
    };
    this.source.on(sig, handler);
    this.handlers.push([sig, handler]);
  }

  target(pidfd: number): void {
    this.pidfd = pidfd;
    for (const signo of this.pending.splice(0)) this.send(signo);
  }

  dispose(): void {
    for (const [sig, handler] of this.handlers) this.source.off(sig, handler);
    this.handlers.length = 0;
  }

  private send(signo: number): void {
    try {
      native().pidfdSendSignal(this.pidfd, signo);
    } catch {
      // Already exited: its exit status is what the caller reports.
    }
  }
}
