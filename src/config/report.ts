// Collects what the validator finds, keyed by JSON path. Invalid values and
// unimplemented features are kept apart so callers can list the things that
// must be fixed before the things ocirun cannot do yet.
import type { Problem } from '../errors.js';

export class Report {
  readonly errors: Problem[] = [];
  readonly unsupported: Problem[] = [];
  readonly warnings: Problem[] = [];
  /** Paths that failed type checks; semantic checks skip those subtrees. */
  private readonly invalid: string[] = [];

  /** A type or shape error: later cross-field checks must not trust this subtree. */
  invalidValue(path: string, message: string): void {
    this.errors.push({ path, message });
    this.invalid.push(path);
  }

  /** A well-typed value that breaks a rule. */
  error(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  notSupported(path: string, message = 'not supported yet'): void {
    this.unsupported.push({ path, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  /** True when nothing at or below `path` failed a type check. */
  ok(...paths: string[]): boolean {
    return paths.every((path) => !this.invalid.some(
      (p) => p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`) || path === '',
    ));
  }

  problems(): Problem[] {
    return [...this.errors, ...this.unsupported];
  }
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `process` + `args` -> `process.args`; odd keys get `["..."]`. */
export function prop(path: string, key: string): string {
  if (!IDENT.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

export function index(path: string, i: number): string {
  return `${path}[${i}]`;
}

/** Map entries always use the bracket form so keys with dots stay readable. */
export function mapKey(path: string, key: string): string {
  return `${path}[${JSON.stringify(key)}]`;
}
