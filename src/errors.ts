// Error classes shared by the whole runtime. The CLI prints `err.message` as a
// single line and maps `code` to behaviour, so messages must stay one line and
// codes must stay stable.

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
  | 'ERR_SYSTEM';

export class OciError extends Error {
  /** An OciErrorCode, or an errno name ('ENOENT') for SystemError. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
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

  constructor(problems: readonly Problem[], options?: { cause?: unknown }) {
    const list = problems.length > 0 ? problems : [{ path: '', message: 'invalid config' }];
    const rest = list.length - 1;
    const suffix = rest > 0 ? ` (and ${rest} more problem${rest === 1 ? '' : 's'})` : '';
    super('ERR_INVALID_CONFIG', formatProblem(list[0]) + suffix, options);
    this.problems = list;
  }
}

/**
 * A failed system call. `code` is the errno name so callers can test
 * `err.code === 'ENOENT'` exactly as they would with Node's own errors.
 */
export class SystemError extends OciError {
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;

  constructor(init: { code: string; errno: number; syscall: string; path?: string; message?: string; cause?: unknown }) {
    const where = init.path !== undefined ? ` ${init.path}` : '';
    super(init.code, init.message ?? `${init.syscall}${where}: ${init.code}`, { cause: init.cause });
    this.errno = init.errno;
    this.syscall = init.syscall;
    if (init.path !== undefined) this.path = init.path;
  }

  /**
   * Wraps a Node (or addon) error carrying `code`/`errno`/`syscall`; anything
   * else is returned unchanged so real bugs keep their stack and type.
   */
  static from(err: unknown, fallbackSyscall = 'unknown'): unknown {
    if (err instanceof SystemError || !(err instanceof Error)) return err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code)) return err;
    return new SystemError({
      code: e.code,
      // Negative, as Node reports it (-2 for ENOENT), so callers can treat both alike.
      errno: typeof e.errno === 'number' ? -Math.abs(e.errno) : 0,
      syscall: e.syscall ?? fallbackSyscall,
      path: e.path,
      message: e.message,
      cause: err,
    });
  }
}
