// Crash injection for the reliability tests: OCIRUN_TEST_CRASH_AT=<step> makes
// the runtime SIGKILL itself at that step, so tests can check that every
// half-done operation is reported truthfully and cleaned up by delete --force.
const target = process.env.OCIRUN_TEST_CRASH_AT;

export type CrashStep =
  | 'create:claimed' | 'create:spawned' | 'create:recorded' | 'create:committed'
  | 'start:released'
  | 'exec:spawned'
  | 'delete:killed';

export function crashPoint(step: CrashStep): void {
  if (target === step) process.kill(process.pid, 'SIGKILL');
}
