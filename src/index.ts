// The library layer the CLI is built on, and the agent-facing Runtime class on
// top of it (docs/library.md); all of it shares the CLI's state directory.
export { Runtime } from './runtime.js';
export type {
  RuntimeOptions, ExitStatus, CreatedContainer, WaitOptions, EventsOptions, ExitEvent, RuntimeEvent, Mark,
  ExecOptions as RuntimeExecOptions,
  CreateOptions as RuntimeCreateOptions, RunOptions as RuntimeRunOptions, DeleteOptions as RuntimeDeleteOptions,
} from './api/types.js';
export { createContext, DEFAULT_ROOT, type RuntimeContext } from './context.js';
export { Logger, type LoggerOptions } from './log.js';
export { createContainer, type CreateOptions, type Created } from './lifecycle/create.js';
export { startContainer } from './lifecycle/start.js';
export { runContainer, type RunOptions } from './lifecycle/run.js';
export { killContainer } from './lifecycle/kill.js';
export { deleteContainer, type DeleteOptions } from './lifecycle/delete.js';
export { containerState, listContainers, type ContainerState } from './lifecycle/query.js';
export { OciError, ConfigError, SystemError } from './errors.js';
export type { Stats as CgroupStats } from './cgroups/stats.js';
export type * from './oci/types.js';
