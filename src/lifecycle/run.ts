// run: create + start, then (unless detached) wait for the container's exit,
// forwarding the signals the caller receives, and delete it unless --keep.
import { closeSync } from 'node:fs';
import type { RuntimeContext } from '../context.js';
import { createContainer, type CreateOptions, type Created } from './create.js';
import { deleteContainer } from './delete.js';
import { exitCodeOf, SignalForwarder } from './process.js';
import { startContainer } from './start.js';
import { AttachedTerminal } from '../io/terminal.js';

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
  /** Signals delivered to this process that are passed on to the container's init. */
  forwardSignals?: NodeJS.Signals[];
  /**
   * Signals that, until the container is created, abort the run instead
   * (createContainer's `signal`): there is no container yet to pass them to.
   */
  interruptSignals?: NodeJS.Signals[];
}

async function createInterruptibly(ctx: RuntimeContext, id: string, opts: RunOptions): Promise<Created> {
  const abort = new AbortController();
  const handlers = (opts.interruptSignals ?? []).map((sig): [NodeJS.Signals, () => void] => [sig, () => abort.abort(sig)]);
  for (const [sig, h] of handlers) ctx.caller.signals.on(sig, h);
  try {
    return await createContainer(ctx, id, { ...opts, attached: !opts.detach, signal: abort.signal });
  } finally {
    for (const [sig, h] of handlers) ctx.caller.signals.off(sig, h);
  }
}

/** Resolves with the container's exit code (128+N if killed by signal N); 0 when detached. */
export async function runContainer(ctx: RuntimeContext, id: string, opts: RunOptions): Promise<number> {
  const forwarded = opts.detach ? [] : opts.forwardSignals ?? [];
  // Listening before create: a signal during setup is held for the container.
  const signals = new SignalForwarder(forwarded.filter((s) => s !== 'SIGWINCH'), ctx.caller.signals);
  let pidfd = -1;
  let tty: AttachedTerminal | undefined;
  try {
    const created = await createInterruptibly(ctx, id, opts);
    pidfd = created.pidfd;
    // Attached to a terminal: our window size becomes the pty's, no SIGWINCH relay needed.
    tty = created.terminal === undefined ? undefined
      : new AttachedTerminal(created.terminal, {
        input: opts.stdio?.[0] ?? ctx.caller.stdio[0], output: opts.stdio?.[1] ?? ctx.caller.stdio[1], signals: ctx.caller.signals,
      });
    if (!tty && forwarded.includes('SIGWINCH')) signals.listen('SIGWINCH');
    try {
      await startContainer(ctx, id);
    } catch (err) {
      await deleteContainer(ctx, id, { force: true });
      throw err;
    }
    // Only now: the waiting helper (pid 1 of its namespace, no handlers) would drop them.
    signals.target(pidfd);
    if (opts.detach) return 0;
    const status = await ctx.caller.waitExit(created.record.pid, pidfd);
    await tty?.finish();
    if (!opts.keep) await deleteContainer(ctx, id, { force: true });
    return exitCodeOf(status);
  } finally {
    await tty?.finish();
    signals.dispose();
    if (pidfd >= 0) closeSync(pidfd);
  }
}
