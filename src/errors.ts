// Error classes shared by the whole runtime and the native addon, which
// constructs SystemError and OciError itself (src/native/binding.ts hands it
// these classes at load time). The CLI prints `err.message` as a single line,
// exits with `err.exitCode` and maps `code` to behaviour, so messages must
// stay one line and codes must stay stable.

/** Every code an OciError that is not a SystemError carries. */
export type OciErrorCode =
  | 'ERR_INVALID_CONFIG'
  | 'ERR_INVALID_ID'
  | 'ERR_CONTAINER_EXISTS'
  | 'ERR_CONTAINER_NOT_FOUND'
  | 'ERR_NOT_CREATED'
  | 'ERR_NOT_STOPPED'
  | 'ERR_NOT_RUNNING'
  | 'ERR_NOT_SUPPORTED'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_HOOK_FAILED'
  /** A signal (SIGTERM, SIGINT) ended the command before it was done; exit status 128+N. */
  | 'ERR_INTERRUPTED'
  | 'ERR_STATE_CORRUPT'
  /** exec could not start its process (runc exits 255 for this). */
  | 'ERR_EXEC_FAILED'
  /** The init helper failed without an errno: it broke the protocol or died. */
  | 'ERR_OCIRUN_HELPER'
  | 'ERR_SYSTEM';

/** An errno name, as Node spells it in `err.code`: 'ENOENT', 'EPERM'. */
export type ErrnoName = `E${Uppercase<string>}`;

const ERRNO_NAME = /^E[A-Z0-9]+$/;

export function isErrnoName(code: unknown): code is ErrnoName {
  return typeof code === 'string' && ERRNO_NAME.test(code);
}

export interface OciErrorOptions {
  cause?: unknown;
  /** The CLI's exit status for this failure; 1 unless said otherwise (runc's). */
  exitCode?: number;
}

export class OciError extends Error {
  /** An OciErrorCode, or an errno name ('ENOENT') for SystemError. */
  readonly code: OciErrorCode | ErrnoName;
  /** What the CLI exits with when this error ends a command. */
  readonly exitCode: number;

  constructor(code: OciErrorCode, message: string, options?: OciErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** One thing wrong with a config, located by a JSON path such as `process.args[0]`. */
export interface Problem {
  /** Empty for the document itself. */
  path: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  return p.path === '' ? p.message : `${p.path}: ${p.message}`;
}

/**
 * An invalid config. Carries every problem found so tools can show them all,
 * while `message` stays one line for the CLI: the first problem plus a count.
 */
export class ConfigError extends OciError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], options?: OciErrorOptions) {
    const list = problems.length > 0 ? problems : [{ path: '', message: 'invalid config' }];
    const rest = list.length - 1;
    const suffix = rest > 0 ? ` (and ${rest} more problem${rest === 1 ? '' : 's'})` : '';
    super('ERR_INVALID_CONFIG', formatProblem(list[0]) + suffix, options);
    this.problems = list;
  }
}

export interface SystemErrorInit {
  code: ErrnoName;
  /** Negative, as Node reports it (-2 for ENOENT). */
  errno: number;
  syscall: string;
  path?: string;
  message?: string;
  cause?: unknown;
}

/**
 * A failed system call. `code` is the errno name so callers can test
 * `err.code === 'ENOENT'` exactly as they would with Node's own errors.
 */
export class SystemError extends OciError {
  declare readonly code: ErrnoName;
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;

  constructor(init: SystemErrorInit) {
    const where = init.path !== undefined ? ` ${init.path}` : '';
    super('ERR_SYSTEM', init.message ?? `${init.syscall}${where}: ${init.code}`, { cause: init.cause });
    // The errno name replaces the placeholder the base class was given.
    (this as { code: string }).code = init.code;
    this.errno = init.errno;
    this.syscall = init.syscall;
    if (init.path !== undefined) this.path = init.path;
  }

  /**
   * Wraps a Node error carrying `code`/`errno`/`syscall`; anything else
   * (OciErrors included) is returned unchanged so real bugs keep their stack
   * and type.
   */
  static from(err: unknown, fallbackSyscall = 'unknown'): unknown {
    if (err instanceof OciError || !(err instanceof Error)) return err;
    const e = err as NodeJS.ErrnoException;
    if (!isErrnoName(e.code)) return err;
    return new SystemError({
      code: e.code,
      errno: typeof e.errno === 'number' ? -Math.abs(e.errno) : 0,
      syscall: e.syscall ?? fallbackSyscall,
      path: e.path,
      message: e.message,
      cause: err,
    });
  }
}
