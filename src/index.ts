// The library layer the CLI is built on. The agent-facing Runtime class comes
// on top of these functions; they already share the CLI's state directory.
export { createContext, DEFAULT_ROOT, type RuntimeContext } from './context.js';
export { Logger, type LoggerOptions } from './log.js';
export { createContainer, type CreateOptions, type Created } from './lifecycle/create.js';
export { startContainer } from './lifecycle/start.js';
export { runContainer, type RunOptions } from './lifecycle/run.js';
export { killContainer } from './lifecycle/kill.js';
export { deleteContainer, type DeleteOptions } from './lifecycle/delete.js';
export { containerState, listContainers, type ContainerState } from './lifecycle/query.js';
export { OciError, ConfigError, SystemError } from './errors.js';
export type * from './oci/types.js';
