// Runs hooks in the runtime's namespaces: prestart and createRuntime (during
// create, while the helper waits at MSG_HOOKS), poststart (after start) and
// poststop (after delete). createContainer and startContainer run in the
// container, from the helper (native/init/hooks.cc), with the same rules:
// state JSON on stdin, exactly the configured args and env, output kept for
// the error message, and on timeout the hook's whole process group killed.
import { spawn } from 'node:child_process';
import { OciError } from '../errors.js';
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

function envObject(env: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // already gone (or the group never formed)
    }
  }
}

/** Runs one hook to completion; rejects with a HookError when it fails or times out. */
export function runHook(kind: HookName, index: number, hook: Hook, state: HookState): Promise<void> {
  return new Promise((resolve, reject) => {
    const argv = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    let output = '';
    let settled = false;
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const settle = (what?: string): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (what === undefined) resolve();
      else reject(new HookError(kind, index, hook.path, what, output));
    };
    // detached: a session and process group of its own, so a timeout can kill
    // everything the hook started, and the env is exactly the hook's.
    const child = spawn(hook.path, argv.slice(1), {
      argv0: argv[0], env: envObject(hook.env), stdio: ['pipe', 'pipe', 'pipe'], detached: true,
    });
    const keep = (chunk: Buffer): void => {
      if (output.length < MAX_OUTPUT) output += chunk.toString('utf8').slice(0, MAX_OUTPUT - output.length);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // A hook need not read its state: EPIPE here is not a failure.
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify(state));
    if (hook.timeout !== undefined) {
      timer = setTimeout(() => { timedOut = true; killGroup(child.pid); }, hook.timeout * 1000);
    }
    child.on('error', (err: NodeJS.ErrnoException) => {
      killGroup(child.pid);
      settle(err.code === 'ENOENT' || err.code === 'EACCES' ? `cannot execute: ${err.code}` : err.message);
    });
    child.on('exit', (code, signal) => {
      const finish = (): void => {
        child.stdout.destroy();
        child.stderr.destroy();
        if (timedOut) settle(`timed out after ${hook.timeout}s`);
        else if (code === 0) settle();
        else if (code !== null) settle(`exit status ${code}`);
        else settle(`killed by signal ${signal}`);
      };
      const drain = setTimeout(finish, DRAIN_MS);
      child.once('close', () => { clearTimeout(drain); finish(); });
    });
  });
}

/** The hooks of one kind, in order; the first failure stops the rest. */
export async function runHooks(kind: HookName, hooks: readonly Hook[] | undefined, state: HookState): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) await runHook(kind, i, hook, state);
}

/** poststop: a failure is a warning and the remaining hooks still run (runtime-spec config.md). */
export async function runHooksWarning(
  kind: HookName, hooks: readonly Hook[] | undefined, state: HookState, warn: (msg: string) => void,
): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) {
    try {
      await runHook(kind, i, hook, state);
    } catch (err) {
      warn((err as Error).message);
    }
  }
}
