// A small schema language and the walker that applies it: type checks, required
// fields, per-value rules, unknown-property warnings, and the "not supported
// yet" verdicts taken from IMPLEMENTED. Cross-field rules live in validate-*.ts.
import { fieldSupport } from '../oci/implemented.js';
import { Report, index, mapKey, prop } from './report.js';

/** Returns a problem message, or undefined when the value is fine. */
export type Check = (value: any) => string | undefined;

export type Schema =
  | { t: 'string'; check?: Check; /** may contain NUL (never reaches a syscall) */ raw?: boolean }
  | { t: 'bool' }
  | { t: 'int'; min: number; max: number; range: string }
  | { t: 'array'; of: Schema; check?: Check }
  | { t: 'object'; props: Readonly<Record<string, Schema>>; required?: readonly string[] }
  | { t: 'map'; of: Schema; key?: Check }
  | { t: 'any' };

export const str = (check?: Check): Schema => ({ t: 'string', check });
export const rawStr: Schema = { t: 'string', raw: true };
export const bool: Schema = { t: 'bool' };
export const any: Schema = { t: 'any' };
export const arr = (of: Schema, check?: Check): Schema => ({ t: 'array', of, check });
export const map = (of: Schema, key?: Check): Schema => ({ t: 'map', of, key });
export const obj = (props: Record<string, Schema>, required: readonly string[] = []): Schema =>
  ({ t: 'object', props, required });

export function int(min: number, max: number, range = `between ${min} and ${max}`): Schema {
  return { t: 'int', min, max, range };
}

// JSON.parse turns 2^64-1 into 2^64 and 2^63-1 into 2^63, so the float bounds
// are one above the integer ones; the messages quote the real limits.
export const u16 = int(0, 0xffff);
export const u32 = int(0, 0xffffffff);
export const i32 = int(-0x80000000, 0x7fffffff);
/**
 * A uid or gid. 4294967295 is (uid_t)-1, which setresuid(2), setresgid(2) and
 * chown(2) read as "leave unchanged": accepting it would run the process as
 * whoever the runtime is.
 */
export const ID_MAX = 0xfffffffe;
export const ID_RANGE = `between 0 and ${ID_MAX}; 4294967295 is (uid_t)-1, "unchanged" to setuid`;
export const id32 = int(0, ID_MAX, ID_RANGE);
export const u64 = int(0, 2 ** 64, 'between 0 and 18446744073709551615');
export const i64 = int(-(2 ** 63), 2 ** 63, 'between -9223372036854775808 and 9223372036854775807');

export const enumOf = (values: Iterable<string>, what: string): Check => {
  const set = new Set(values);
  return (v: string) => (set.has(v) ? undefined : `unknown ${what} ${JSON.stringify(v)}`);
};

export const absolute: Check = (v: string) => (v.startsWith('/') ? undefined : 'must be an absolute path');
export const nonEmpty: Check = (v: string | unknown[]) => (v.length > 0 ? undefined : 'must not be empty');

/** Options for one walk; `report` receives everything found. */
interface Walk {
  report: Report;
  /** An ancestor was already refused as not supported. */
  refused: boolean;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Whether a value asks for anything. JSON's "empty" values count as absent,
 * as with Go's omitempty: "", false, [], and objects holding only those. A map
 * with any key does ask for something (the key names a device, a file...).
 */
export function carriesValue(v: unknown, schema?: Schema): boolean {
  if (v === undefined || v === null || v === false || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (!isObject(v)) return true;
  if (schema?.t === 'map') return Object.keys(v).length > 0;
  if (schema?.t === 'object') {
    return Object.entries(v).some(([k, x]) =>
      carriesValue(x, Object.prototype.hasOwnProperty.call(schema.props, k) ? schema.props[k] : undefined));
  }
  // Unknown shape: iterate, since it may be arbitrarily deep.
  const todo: unknown[] = [v];
  while (todo.length > 0) {
    const x = todo.pop();
    if (x === undefined || x === null || x === false || x === '') continue;
    if (Array.isArray(x)) { if (x.length > 0) return true; continue; }
    if (isObject(x)) { todo.push(...Object.values(x)); continue; }
    return true;
  }
  return false;
}

/**
 * Checks `value` against `schema`, reporting at `path`. Returns a copy with
 * nulls and unknown properties dropped, so the result matches the TS types
 * whenever no problems were reported.
 */
export function walk(value: unknown, schema: Schema, path: string, pattern: string, report: Report): unknown {
  return walkAt(value, schema, path, pattern, { report, refused: false });
}

function walkAt(value: unknown, schema: Schema, path: string, pattern: string, w: Walk): unknown {
  const r = w.report;
  switch (schema.t) {
    case 'string': {
      if (typeof value !== 'string') { r.invalidValue(path, 'must be a string'); return value; }
      if (!schema.raw && value.includes('\0')) { r.invalidValue(path, 'must not contain NUL bytes'); return value; }
      const msg = schema.check?.(value);
      if (msg !== undefined) r.invalidValue(path, msg);
      return value;
    }
    case 'any':
      return value;
    case 'bool':
      if (typeof value !== 'boolean') r.invalidValue(path, 'must be a boolean');
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) r.invalidValue(path, 'must be an integer');
      else if (value < schema.min || value > schema.max) r.invalidValue(path, `must be an integer ${schema.range}`);
      return value;
    case 'array': {
      if (!Array.isArray(value)) { r.invalidValue(path, 'must be an array'); return value; }
      const out = value.map((el, i) => walkAt(el, schema.of, index(path, i), `${pattern}[]`, w));
      const msg = schema.check?.(value);
      if (msg !== undefined) r.invalidValue(path, msg);
      return out;
    }
    case 'map': {
      if (!isObject(value)) { r.invalidValue(path, 'must be an object'); return value; }
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const at = mapKey(path, k);
        const msg = schema.key?.(k);
        if (msg !== undefined) r.invalidValue(at, msg);
        // defineProperty: a "__proto__" key must stay a plain entry.
        Object.defineProperty(out, k, { value: walkAt(v, schema.of, at, `${pattern}{}`, w), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    case 'object': {
      if (!isObject(value)) { r.invalidValue(path, 'must be an object'); return value; }
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? []) {
        if (value[key] === undefined || value[key] === null) r.invalidValue(prop(path, key), 'is required');
      }
      for (const [k, v] of Object.entries(value)) {
        const at = prop(path, k);
        const child = Object.prototype.hasOwnProperty.call(schema.props, k) ? schema.props[k] : undefined;
        if (child === undefined) { r.warn(at, 'unknown property, ignored'); continue; }
        if (v === null || v === undefined) continue;
        const pat = pattern === '' ? k : `${pattern}.${k}`;
        let refused = w.refused;
        if (!refused) {
          const s = fieldSupport(pat);
          if (!s.supported && !s.partial && carriesValue(v, child)) { r.notSupported(at); refused = true; }
        }
        out[k] = walkAt(v, child, at, pat, refused === w.refused ? w : { report: r, refused });
      }
      return out;
    }
  }
}
