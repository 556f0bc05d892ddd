// The plan on the wire: JSON of the plan-schema.ts types, under their own
// names. JSON.stringify cannot write a bigint as a number, and u64 values
// (capability sets, RLIM_INFINITY, seccomp arguments) need all 64 bits, so
// this walks the value itself; strings still go through JSON.stringify.
import type { HelperPlan } from './plan-schema.js';

/** Upper bound on a whole plan; the helper refuses more (native/common/protocol.h). */
export const MAX_PLAN_BYTES = 64 * 1024 * 1024;

function json(v: unknown): string {
  switch (typeof v) {
    case 'string': return JSON.stringify(v);
    case 'bigint': return v.toString();
    case 'boolean': return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new RangeError(`plan: ${v} is not a number JSON can carry`);
      return String(v);
    case 'object': {
      if (v === null) return 'null';
      if (Buffer.isBuffer(v)) return `"${v.toString('hex')}"`;
      if (Array.isArray(v)) return `[${v.map(json).join(',')}]`;
      let out = '';
      for (const [key, value] of Object.entries(v)) {
        if (value === undefined) continue;
        out += `${out ? ',' : ''}${JSON.stringify(key)}:${json(value)}`;
      }
      return `{${out}}`;
    }
  }
  throw new TypeError(`plan: cannot encode a ${typeof v}`);
}

export function encodePlan(plan: HelperPlan): Buffer {
  const out = Buffer.from(json(plan), 'utf8');
  if (out.length > MAX_PLAN_BYTES) throw new RangeError(`plan too large: ${out.length} bytes`);
  return out;
}
