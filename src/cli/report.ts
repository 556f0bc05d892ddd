// What commands print: results on the caller's stdout, a failure as one line
// on its stderr (in the daemon those are the descriptors the front end sent).
import { writeSync } from 'node:fs';
import { OciError } from '../errors.js';
import type { Logger } from '../log.js';
import type { RuntimeContext } from '../context.js';

/** Writes a command's output to the caller's stdout. */
export function print(ctx: RuntimeContext, s: string): void {
  writeSync(ctx.caller.stdio[1], s);
}

/** One line on stderr ("ocirun: <message>"), the whole error in the --log file. */
export function reportError(err: unknown, logger: Logger, stderr = 2): void {
  const e = err as { message?: string; stack?: string };
  const message = (e?.message ?? String(err)).split('\n')[0];
  if (logger.debugEnabled && e?.stack) logger.debug(e.stack);
  // The log gets it for engines that read --log; the terminal always gets one line.
  logger.errorToFileOnly(message);
  writeSync(stderr, `ocirun: ${message}\n`);
}

/** The exit code of a failure: the OciError's own (exec: 255 for a process that never started), else 1. */
export function failureExitCode(err: unknown): number {
  return err instanceof OciError ? err.exitCode : 1;
}
