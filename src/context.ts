// What every operation needs to know about the runtime it runs in.
import { resolve } from 'node:path';
import { Logger } from './log.js';
import { StateStore } from './state/store.js';
import { localCaller, type Caller } from './caller.js';
import { defaultStateRoot, resolveRootless, ROOT_STATE_ROOT, type RootlessSetting } from './rootless/mode.js';

/** The state root of root; without root it is $XDG_RUNTIME_DIR/ocirun (src/rootless/mode.ts). */
export const DEFAULT_ROOT = ROOT_STATE_ROOT;

export interface RuntimeContext {
  root: string;
  store: StateStore;
  logger: Logger;
  debug: boolean;
  /**
   * --cgroup-manager (crun's flag). "disabled": create no cgroups, the way
   * podman's --cgroups=disabled expects. Absent means the default manager.
   */
  cgroupManager?: 'cgroupfs' | 'systemd' | 'disabled';
  /**
   * --rootless, resolved: cgroups the caller may not make are skipped and
   * permission errors on them follow runc's rootless rules (docs/rootless.md).
   */
  rootless: boolean;
  /** Whom the call is for: cwd, environment, descriptors, signals (src/caller.ts). */
  caller: Caller;
}

export interface ContextOptions {
  root?: string;
  logger?: Logger;
  debug?: boolean;
  cgroupManager?: RuntimeContext['cgroupManager'];
  rootless?: RootlessSetting | boolean;
  caller?: Caller;
}

export function createContext(opts: ContextOptions = {}): RuntimeContext {
  // Absolute, like runc's: the helper gets paths under it and refuses relative ones.
  const caller = opts.caller ?? localCaller();
  const root = resolve(caller.cwd, opts.root ?? defaultStateRoot(caller.env));
  return {
    caller,
    root,
    store: new StateStore(root),
    logger: opts.logger ?? new Logger({ debug: opts.debug }),
    debug: opts.debug ?? false,
    ...(opts.cgroupManager ? { cgroupManager: opts.cgroupManager } : {}),
    rootless: resolveRootless(opts.rootless),
  };
}
