// Runs hooks in the runtime's namespaces: prestart and createRuntime (during
// create, while the helper waits at MSG_HOOKS), poststart (after start) and
// poststop (after delete). createContainer and startContainer run in the
// container, from the helper (native/init/hooks.cc), with the same rules:
// state JSON on stdin, exactly the configured args and env, output kept for
// the error message, and on timeout the hook's whole process group killed.
//
// The hook is the caller's child (Caller.startHook): with the daemon, the
// front end starts it and reaps it for us, so it has the caller's cgroup,
// rlimits, credentials, umask and session, as runc's hooks have runc's
// (docs/hooks.md). Everything else is decided here.
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { localCaller, type Caller } from '../caller.js';
import { OciError } from '../errors.js';
import { signalName } from '../lifecycle/process.js';
import type { ExitStatus, StartedHook } from '../native/binding.js';
import type { HookName } from '../oci/tables.js';
import type { Hook } from '../oci/types.js';
import type { HookState } from './state.js';

/** Of a failing hook's output, what goes into the error message. */
const MAX_OUTPUT = 2048;
/**
 * Once the hook has exited, how long its output may still take to arrive. A
 * child it left running may hold the pipe open forever; that is not ours to wait for.
 */
const DRAIN_MS = 200;

export class HookError extends OciError {
  constructor(readonly hook: HookName, readonly index: number, readonly path: string, what: string, output: string) {
    // One line: the CLI prints messages as single lines.
    const out = output.replace(/\s+/g, ' ').trim();
    super('ERR_HOOK_FAILED', `${hook} hook #${index} (${path}): ${what}${out ? `: ${out}` : ''}`);
  }
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone (or the group never formed)
    }
  }
}

function describeExit(s: ExitStatus): string | undefined {
  if (s.exitCode === 0) return undefined;
  if (s.exitCode !== null) return `exit status ${s.exitCode}`;
  if (s.signal !== null) return `killed by signal ${signalName(s.signal) ?? s.signal}`;
  return 'exit status unknown';
}

/**
 * Runs one hook to completion; rejects with a HookError when it fails or
 * times out, or when `abort` fires (its group is killed).
 */
export async function runHook(
  kind: HookName, index: number, hook: Hook, state: HookState, caller: Caller = localCaller(), abort?: AbortSignal,
): Promise<void> {
  const argv = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
  let started: StartedHook;
  try {
    started = await caller.startHook({ path: hook.path, argv, env: hook.env ?? [], state: Buffer.from(JSON.stringify(state)) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HookError(kind, index, hook.path, code === 'ENOENT' || code === 'EACCES' ? `cannot execute: ${code}` : (err as Error).message, '');
  }
  const { pid, pidfd } = started;
  let output = '';
  const out = new Socket({ fd: started.output, readable: true, writable: false });
  const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
  out.on('data', (chunk: Buffer) => {
    if (output.length < MAX_OUTPUT) output += chunk.toString('utf8').slice(0, MAX_OUTPUT - output.length);
  });
  out.on('error', () => {});
  let timedOut = false;
  // The whole group: a shell hook's children would otherwise outlive it.
  const timer = hook.timeout === undefined ? undefined : setTimeout(() => { timedOut = true; killGroup(pid); }, hook.timeout * 1000);
  let interrupted = false;
  const interrupt = (): void => { interrupted = true; killGroup(pid); };
  if (abort?.aborted) interrupt();
  else abort?.addEventListener('abort', interrupt, { once: true });
  let status: ExitStatus;
  try {
    status = await caller.waitExit(pid, pidfd);
  } catch (err) {
    killGroup(pid); // no one is left to wait for it
    out.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
    abort?.removeEventListener('abort', interrupt);
    if (pidfd >= 0) closeSync(pidfd);
  }
  let drain: NodeJS.Timeout | undefined;
  await Promise.race([closed, new Promise((r) => { drain = setTimeout(r, DRAIN_MS); })]);
  clearTimeout(drain);
  out.destroy();
  const what = timedOut ? `timed out after ${hook.timeout}s` : interrupted ? `interrupted by ${String(abort?.reason)}` : describeExit(status);
  if (what !== undefined) throw new HookError(kind, index, hook.path, what, output);
}

/** The hooks of one kind, in order; the first failure stops the rest. */
export async function runHooks(
  kind: HookName, hooks: readonly Hook[] | undefined, state: HookState, caller?: Caller, abort?: AbortSignal,
): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) await runHook(kind, i, hook, state, caller, abort);
}

/** poststop: a failure is a warning and the remaining hooks still run (runtime-spec config.md). */
export async function runHooksWarning(
  kind: HookName, hooks: readonly Hook[] | undefined, state: HookState, warn: (msg: string) => void, caller?: Caller,
): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) {
    try {
      await runHook(kind, i, hook, state, caller);
    } catch (err) {
      warn((err as Error).message);
    }
  }
}
