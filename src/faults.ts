// Crash injection for the reliability tests: OCIRUN_TEST_CRASH_AT=<step> makes
// the runtime SIGKILL itself at that step, so tests can check that every
// half-done operation is reported truthfully and cleaned up by delete --force.
// Read from the caller's environment: in the daemon that kills the daemon, at
// the same step, which is what the engine crash tests need.
import type { RuntimeContext } from './context.js';

export type CrashStep =
  | 'create:claimed' | 'create:spawned' | 'create:recorded' | 'create:committed'
  | 'start:released'
  | 'exec:spawned'
  | 'delete:killed';

export function crashPoint(ctx: RuntimeContext, step: CrashStep): void {
  if (ctx.caller.env.OCIRUN_TEST_CRASH_AT === step) process.kill(process.pid, 'SIGKILL');
}
