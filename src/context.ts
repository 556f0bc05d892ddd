// What every operation needs to know about the runtime it runs in.
import { Logger } from './log.js';
import { StateStore } from './state/store.js';

export const DEFAULT_ROOT = '/run/ocirun';

export interface RuntimeContext {
  root: string;
  store: StateStore;
  logger: Logger;
  debug: boolean;
}

export function createContext(opts: { root?: string; logger?: Logger; debug?: boolean } = {}): RuntimeContext {
  const root = opts.root ?? DEFAULT_ROOT;
  return {
    root,
    store: new StateStore(root),
    logger: opts.logger ?? new Logger({ debug: opts.debug }),
    debug: opts.debug ?? false,
  };
}
