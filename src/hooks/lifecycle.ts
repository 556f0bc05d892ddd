// Where hooks meet the lifecycle (runtime-spec runtime.md#lifecycle): what the
// helper runs itself goes into its plan; what runs in the runtime's
// namespaces runs here, at the same points, with the state the spec asks for.
import type { Caller } from '../caller.js';
import { HelperPause } from '../native/helper-pause.js';
import type { HookPlan, InitHooksPlan } from '../native/plan-schema.js';
import type { Hook, Hooks } from '../oci/types.js';
import { hookState, statePieces, type StateSource } from './state.js';
import { runHooks, runHooksWarning } from './run.js';

const initHook = (kind: HookPlan['kind']) => (h: Hook): HookPlan => ({ kind, path: h.path, args: h.args, env: h.env, timeout: h.timeout });

/**
 * The helper's share: createContainer and startContainer hooks with their
 * state, and whether it must pause for prestart/createRuntime (runc passes
 * "creating" to the create-time hooks and "created" to startContainer).
 */
export function planInitHooks(hooks: Hooks | undefined, src: StateSource): InitHooksPlan | undefined {
  if (!hooks) return undefined;
  const create = (hooks.createContainer ?? []).map(initHook('createContainer'));
  const start = (hooks.startContainer ?? []).map(initHook('startContainer'));
  const pause = (hooks.prestart?.length ?? 0) + (hooks.createRuntime?.length ?? 0) > 0;
  if (!pause && create.length === 0 && start.length === 0) return undefined;
  return {
    pauseForRuntimeHooks: pause,
    hooks: [...create, ...start],
    stateCreate: create.length > 0 ? statePieces(src, 'creating') : undefined,
    stateStart: start.length > 0 ? statePieces(src, 'created') : undefined,
  };
}

/**
 * prestart then createRuntime, run when the helper reaches the createRuntime
 * point (spawnContainer's onHooks). The helper waits for our answer on the
 * fd: 'h' goes on, 'a' makes it exit; spawnContainer then rejects and
 * failure() says why.
 */
export class RuntimeHookGate {
  private readonly pause = new HelperPause();

  /** `signal` aborts the hooks (their groups are killed) and so the create. */
  constructor(private readonly hooks: Hooks, private readonly src: StateSource, private readonly caller?: Caller, private readonly signal?: AbortSignal) {}

  /** Undefined when there is nothing to run, so the helper is not asked to pause. */
  static for(hooks: Hooks | undefined, src: StateSource, caller?: Caller, signal?: AbortSignal): RuntimeHookGate | undefined {
    if ((hooks?.prestart?.length ?? 0) + (hooks?.createRuntime?.length ?? 0) === 0) return undefined;
    return new RuntimeHookGate(hooks!, src, caller, signal);
  }

  readonly onHooks = (pid: number, fd: number): void => {
    const state = hookState(this.src, 'creating', pid);
    this.pause.answer(fd, async () => {
      await runHooks('prestart', this.hooks.prestart, state, this.caller, this.signal);
      await runHooks('createRuntime', this.hooks.createRuntime, state, this.caller, this.signal);
    });
  };

  /** After spawnContainer rejected: the hook failure behind it, once the hooks are over. */
  failure(): Promise<unknown> {
    return this.pause.failure();
  }
}

/** poststart: a failure is the caller's to handle (the container is killed). */
export async function runPoststart(hooks: Hooks | undefined, src: StateSource, pid: number, caller?: Caller): Promise<void> {
  await runHooks('poststart', hooks?.poststart, hookState(src, 'running', pid), caller);
}

/** poststop: after the container is gone; failures are warnings. */
export async function runPoststop(hooks: Hooks | undefined, src: StateSource, warn: (msg: string) => void, caller?: Caller): Promise<void> {
  await runHooksWarning('poststop', hooks?.poststop, hookState(src, 'stopped'), warn, caller);
}
