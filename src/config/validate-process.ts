// Rules for `process` that the schema cannot express.
import type { Spec } from '../oci/types.js';
import { CAPABILITIES, CAPABILITY_SETS } from '../oci/tables.js';
import { type Report, index } from './report.js';

export function validateProcess(spec: Spec, r: Report): void {
  const proc = spec.process;
  if (proc === undefined) return;

  if (r.ok('process.consoleSize', 'process.terminal') && proc.consoleSize !== undefined && proc.terminal !== true) {
    r.error('process.consoleSize', 'requires process.terminal to be true');
  }

  if (Array.isArray(proc.rlimits)) {
    const seen = new Map<string, number>();
    proc.rlimits.forEach((rl, i) => {
      const at = index('process.rlimits', i);
      if (!r.ok(at)) return;
      const first = seen.get(rl.type);
      if (first !== undefined) r.error(`${at}.type`, `duplicate rlimit ${JSON.stringify(rl.type)} (first at process.rlimits[${first}])`);
      else seen.set(rl.type, i);
      // setrlimit(2) refuses soft > hard with EINVAL, which would surface far from the config.
      if (rl.soft > rl.hard) r.error(at, `soft limit ${fmtLimit(rl.soft)} exceeds hard limit ${fmtLimit(rl.hard)}`);
    });
  }

  // The spec says unknown capabilities must not be fatal: they may exist on a
  // newer kernel than this table knows about.
  const caps = proc.capabilities;
  if (caps !== undefined && typeof caps === 'object') {
    for (const set of CAPABILITY_SETS) {
      const list = caps[set];
      if (!Array.isArray(list)) continue;
      list.forEach((name, i) => {
        if (typeof name === 'string' && !CAPABILITIES.has(name)) {
          r.warn(index(`process.capabilities.${set}`, i), `unknown capability ${JSON.stringify(name)}, ignored`);
        }
      });
    }
  }
}

function fmtLimit(n: number): string {
  return n >= 2 ** 64 ? 'unlimited' : String(BigInt(n));
}
