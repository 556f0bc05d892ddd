// run: create + start, then (unless detached) wait for the container's exit,
// forwarding the signals the caller receives, and delete it unless --keep.
import { closeSync } from 'node:fs';
import { constants } from 'node:os';
import type { RuntimeContext } from '../context.js';
import { native } from '../native/binding.js';
import { createContainer, type CreateOptions } from './create.js';
import { deleteContainer } from './delete.js';
import { exitCodeOf, waitExit } from './process.js';
import { startContainer } from './start.js';
import { AttachedTerminal } from '../io/terminal.js';

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
  /** Signals delivered to this process that are passed on to the container's init. */
  forwardSignals?: NodeJS.Signals[];
}

/** Resolves with the container's exit code (128+N if killed by signal N); 0 when detached. */
export async function runContainer(ctx: RuntimeContext, id: string, opts: RunOptions): Promise<number> {
  const { pidfd, terminal } = await createContainer(ctx, id, { ...opts, attached: !opts.detach });
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  // Attached to a terminal: our window size becomes the pty's, no SIGWINCH relay needed.
  const tty = terminal === undefined ? undefined
    : new AttachedTerminal(terminal, { input: opts.stdio?.[0] ?? 0, output: opts.stdio?.[1] ?? 1 });
  try {
    for (const sig of (opts.forwardSignals ?? []).filter((s) => !(tty && s === 'SIGWINCH'))) {
      const handler = (): void => {
        try {
          native().pidfdSendSignal(pidfd, constants.signals[sig]);
        } catch {
          // The container already exited; its exit is reported below.
        }
      };
      process.on(sig, handler);
      handlers.push([sig, handler]);
    }
    try {
      await startContainer(ctx, id);
    } catch (err) {
      await deleteContainer(ctx, id, { force: true });
      throw err;
    }
    if (opts.detach) return 0;
    const status = await waitExit(pidfd);
    await tty?.finish();
    if (!opts.keep) await deleteContainer(ctx, id, { force: true });
    return exitCodeOf(status);
  } finally {
    await tty?.finish();
    for (const [sig, handler] of handlers) process.off(sig, handler);
    if (pidfd >= 0) closeSync(pidfd);
  }
}
