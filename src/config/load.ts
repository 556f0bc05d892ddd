// Reads and validates a bundle. Pure reading: whatever fails, nothing is
// created or changed on the host.
// Synchronous on purpose: a few local stat/open/read calls cost less blocking
// the event loop (~0.1 ms) than a thread-pool round trip each (~0.05 ms of
// wake-ups apiece, ~0.4 ms per create in all; docs/performance.md).
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, formatProblem } from '../errors.js';
import type { Spec } from '../oci/types.js';
import { checkHost } from './host-checks.js';
import { findJsonError } from './json-error.js';
import { validateInto } from './validate.js';

/** Real configs are a few KiB; this only stops a runaway file from eating memory. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/**
 * Flags for opening a file a caller names before knowing what it is: a fifo
 * opens at once instead of waiting for a writer, a terminal does not become
 * our controlling tty. The caller then refuses anything but a regular file.
 */
export const READ_ANY_FILE = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

export interface LoadedBundle {
  spec: Spec;
  /** Absolute real path of the bundle directory. */
  bundle: string;
  /** Absolute real path of the root filesystem. */
  rootfs: string;
  /** One line each, for the log: things ignored rather than refused. */
  warnings: string[];
}

export interface LoadOptions {
  /** Default true: create and run need a process. */
  requireProcess?: boolean;
  /** The config document to use instead of reading <bundle>/config.json (library callers). */
  config?: unknown;
  /** The process that will start the helper (the daemon's caller): its capabilities are what the container can get. */
  callerPid?: number;
}

const fail = (message: string, cause?: unknown): never => {
  throw new ConfigError([{ path: '', message }], cause === undefined ? undefined : { cause });
};

export async function loadBundle(bundleDir: string, opts: LoadOptions = {}): Promise<LoadedBundle> {
  const abs = resolve(bundleDir);
  let bundle: string;
  try {
    bundle = realpathSync(abs);
    if (!statSync(bundle).isDirectory()) fail(`bundle ${abs} is not a directory`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    bundle = fail(`bundle ${abs}: ${describe(err)}`, err);
  }

  let value: unknown;
  if (opts.config !== undefined) {
    // A copy as JSON: what is validated is exactly what state.json will record.
    try {
      value = JSON.parse(JSON.stringify(opts.config));
    } catch (err) {
      fail(`config: not representable as JSON (${describe(err)})`, err);
    }
  } else {
    const file = join(bundle, 'config.json');
    const text = readConfig(file);
    try {
      value = JSON.parse(text);
    } catch (err) {
      fail(`${file}: invalid JSON ${jsonWhere(text, err)}`, err);
    }
  }

  const { spec, report } = validateInto(value, { requireProcess: opts.requireProcess ?? true });
  const rootfs = checkHost(spec, bundle, report, opts.callerPid);
  const problems = report.problems();
  if (problems.length > 0) throw new ConfigError(problems);
  return { spec, bundle, rootfs: rootfs!, warnings: report.warnings.map(formatProblem) };
}

function readConfig(file: string): string {
  let fd;
  try {
    fd = openSync(file, READ_ANY_FILE);
  } catch (err) {
    return fail(`${file}: ${describe(err)}`, err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) fail(`${file} is not a regular file`);
    // Checked before reading so a huge file costs one fstat, not 16 MiB of memory.
    if (st.size > MAX_CONFIG_BYTES) fail(`${file} is too large (${st.size} bytes, limit ${MAX_CONFIG_BYTES})`);
    // The file may grow while we read; the limit holds regardless.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.max(Math.min(st.size - total, MAX_CONFIG_BYTES), 0) + 65536);
      const bytesRead = readSync(fd, chunk, 0, chunk.length, total);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_CONFIG_BYTES) fail(`${file} is too large (over ${MAX_CONFIG_BYTES} bytes)`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return fail(`${file}: ${describe(err)}`, err);
  } finally {
    closeSync(fd);
  }
}

function jsonWhere(text: string, err: unknown): string {
  let found;
  try {
    found = findJsonError(text);
  } catch {
    found = undefined; // e.g. nesting too deep for the scanner's recursion
  }
  if (found) return `at line ${found.line}, column ${found.column} (offset ${found.offset}): ${found.message}`;
  const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return `(${msg})`;
}

function describe(err: unknown): string {
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'ENOTDIR': return 'not a directory';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ELOOP': return 'too many levels of symbolic links';
    default: return err instanceof Error ? err.message : String(err);
  }
}
