// The bodies of the commands engines call most (create, run, state).
import { closeSync } from 'node:fs';
import { print } from './report.js';
import type { RuntimeContext } from '../context.js';
import { containerState } from '../lifecycle/query.js';

/** Signals `run` passes on to the container while it waits. */
export const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

/** Signals that make `run` give up while its container is still being created. */
const INTERRUPTS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export interface CreateFlags { bundle: string; pidFile?: string; noPivot: boolean }
export interface RunFlags extends CreateFlags { detach: boolean; keep: boolean }
/** The process I/O options create and run take (exec-command.ts: createIoOptions). */
export interface CreateIo { consoleSocket?: string; pidfdSocket?: string; preserveFds?: number; listenFds: number }

export function printState(ctx: RuntimeContext, id: string): void {
  print(ctx, JSON.stringify(containerState(ctx, id), null, 2) + '\n');
}

export async function createCommand(ctx: RuntimeContext, id: string, f: CreateFlags, io: CreateIo): Promise<void> {
  const { createContainer } = await import('../lifecycle/create.js');
  const { pidfd } = await createContainer(ctx, id, { bundle: f.bundle, pidFile: f.pidFile, noPivot: f.noPivot, ...io });
  if (pidfd >= 0) closeSync(pidfd);
}

/** The exit code `run` ends with. */
export async function runCommand(ctx: RuntimeContext, id: string, f: RunFlags, io: CreateIo): Promise<number> {
  const { runContainer } = await import('../lifecycle/run.js');
  return runContainer(ctx, id, {
    bundle: f.bundle, pidFile: f.pidFile, noPivot: f.noPivot, detach: f.detach, keep: f.keep, ...io,
    forwardSignals: f.detach ? [] : FORWARDED,
    interruptSignals: INTERRUPTS,
  });
}
