// How a failed command ends, shared by the commander CLI (main.ts) and its
// fast path (fast.ts) so both print and exit identically.
import { writeSync } from 'node:fs';
import { OciError } from '../errors.js';
import type { Logger } from '../log.js';

/** One line on stderr ("ocirun: <message>"), the whole error in the --log file. */
export function reportError(err: unknown, logger: Logger): void {
  const e = err as { message?: string; stack?: string };
  const message = (e?.message ?? String(err)).split('\n')[0];
  if (logger.debugEnabled && e?.stack) logger.debug(e.stack);
  // The log gets it for engines that read --log; the terminal always gets one line.
  logger.errorToFileOnly(message);
  writeSync(2, `ocirun: ${message}\n`);
}

/** The exit code of a failure: the OciError's own (exec: 255 for a process that never started), else 1. */
export function failureExitCode(err: unknown): number {
  return err instanceof OciError ? err.exitCode : 1;
}
