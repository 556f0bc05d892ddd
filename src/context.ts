// What every operation needs to know about the runtime it runs in.
import { resolve } from 'node:path';
import { Logger } from './log.js';
import { StateStore } from './state/store.js';
import { localCaller, type Caller } from './caller.js';

export const DEFAULT_ROOT = '/run/ocirun';

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
  /** Whom the call is for: cwd, environment, descriptors, signals (src/caller.ts). */
  caller: Caller;
}

export function createContext(
  opts: { root?: string; logger?: Logger; debug?: boolean; cgroupManager?: RuntimeContext['cgroupManager']; caller?: Caller } = {},
): RuntimeContext {
  // Absolute, like runc's: the helper gets paths under it and refuses relative ones.
  const caller = opts.caller ?? localCaller();
  const root = resolve(caller.cwd, opts.root ?? DEFAULT_ROOT);
  return {
    caller,
    root,
    store: new StateStore(root),
    logger: opts.logger ?? new Logger({ debug: opts.debug }),
    debug: opts.debug ?? false,
    ...(opts.cgroupManager ? { cgroupManager: opts.cgroupManager } : {}),
  };
}
