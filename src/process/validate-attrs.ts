// Rules for process.scheduler, process.execCPUAffinity and linux.personality
// that the schema cannot express (the scheduler ones are runc's).
import type { Spec } from '../oci/types.js';
import { type Report, index } from '../config/report.js';
import { parseCpuList } from './attrs.js';

/** The kernel's largest NR_CPUS; a higher CPU number can never be online. */
const MAX_CPUS = 8192;

export function validateProcessAttrs(spec: Spec, r: Report): void {
  const s = spec.process?.scheduler;
  if (s !== undefined && r.ok('process.scheduler')) {
    const at = 'process.scheduler';
    const realtime = s.policy === 'SCHED_FIFO' || s.policy === 'SCHED_RR';
    const deadline = s.policy === 'SCHED_DEADLINE';
    if (s.policy === 'SCHED_ISO') r.error(`${at}.policy`, 'SCHED_ISO is not implemented by Linux');
    if (s.priority && !realtime) r.error(`${at}.priority`, 'can only be set with SCHED_FIFO or SCHED_RR');
    if (realtime && (s.priority ?? 0) < 1) r.error(`${at}.priority`, `must be between 1 and 99 with ${s.policy}`);
    if (realtime && (s.priority ?? 0) > 99) r.error(`${at}.priority`, 'must be between 1 and 99');
    for (const f of ['runtime', 'deadline', 'period'] as const) {
      if (s[f] && !deadline) r.error(`${at}.${f}`, 'can only be set with SCHED_DEADLINE');
    }
    if (deadline) {
      // sched_setattr(2): runtime <= deadline <= period (period 0 means "= deadline").
      const runtime = s.runtime ?? 0;
      const dl = s.deadline ?? 0;
      if (runtime === 0 || dl === 0) r.error(at, 'SCHED_DEADLINE needs runtime and deadline');
      else if (runtime > dl) r.error(`${at}.runtime`, 'must not exceed deadline');
      else if (s.period && dl > s.period) r.error(`${at}.deadline`, 'must not exceed period');
    }
  }

  const aff = spec.process?.execCPUAffinity;
  if (aff !== undefined && r.ok('process.execCPUAffinity')) {
    for (const f of ['initial', 'final'] as const) {
      const list = aff[f];
      if (!list) continue;
      try {
        const cpus = parseCpuList(list);
        if (cpus[cpus.length - 1] >= MAX_CPUS) r.error(`process.execCPUAffinity.${f}`, `CPU numbers must be below ${MAX_CPUS}`);
      } catch (err) {
        r.error(`process.execCPUAffinity.${f}`, (err as Error).message);
      }
    }
  }

  const pers = spec.linux?.personality;
  if (pers !== undefined && r.ok('linux.personality')) {
    // The spec defines no flag values yet.
    (pers.flags ?? []).forEach((flag, i) => {
      r.error(index('linux.personality.flags', i), `unknown personality flag ${JSON.stringify(flag)}`);
    });
  }
}
