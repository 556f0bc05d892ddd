// process.scheduler, ioPriority, execCPUAffinity, apparmorProfile, selinuxLabel and
// linux.personality as the helper applies them: names resolved to numbers,
// CPU lists to masks.
import type { LinuxPersonality, Process } from '../oci/types.js';
import { IOPRIO_CLASSES, PERSONALITY_DOMAINS, SCHED_FLAGS, SCHED_POLICIES } from '../oci/tables.js';
import { toUint64 } from '../config/numbers.js';
import type { ProcessAttrsPlan } from '../native/plan-schema.js';
import { selinuxEnabled } from './host-checks.js';

const IOPRIO_CLASS_SHIFT = 13;

/** Which process a plan is for: the container's init, or one started by `exec`. */
export type ProcessRole = 'init' | 'exec';

/** "0-3,7" -> [0, 1, 2, 3, 7]; throws on a reversed range. */
export function parseCpuList(list: string): number[] {
  const cpus = new Set<number>();
  for (const part of list.split(',')) {
    const [a, b = a] = part.split('-').map(Number);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a > b) throw new RangeError(`invalid CPU range ${JSON.stringify(part)}`);
    for (let cpu = a; cpu <= b; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((x, y) => x - y);
}

/** A cpu_set_t image for sched_setaffinity(2): 64-bit little-endian words, bit n = CPU n. */
export function cpuMask(list: string): Buffer {
  const cpus = parseCpuList(list);
  const words = Math.floor(cpus[cpus.length - 1] / 64) + 1;
  const mask = Buffer.alloc(words * 8);
  for (const cpu of cpus) mask[cpu >> 3] |= 1 << (cpu & 7);
  return mask;
}

export function planProcessAttrs(p: Process, role: ProcessRole, host = { selinux: selinuxEnabled }): ProcessAttrsPlan {
  const out: ProcessAttrsPlan = {};
  if (p.apparmorProfile) out.apparmorProfile = p.apparmorProfile;
  if (p.selinuxLabel && host.selinux()) out.selinuxLabel = p.selinuxLabel;
  if (p.scheduler) {
    const s = p.scheduler;
    out.scheduler = {
      policy: SCHED_POLICIES[s.policy],
      nice: s.nice ?? 0,
      priority: s.priority ?? 0,
      flags: (s.flags ?? []).reduce((acc, f) => acc | SCHED_FLAGS[f], 0),
      runtime: toUint64(s.runtime ?? 0),
      deadline: toUint64(s.deadline ?? 0),
      period: toUint64(s.period ?? 0),
    };
  }
  if (p.ioPriority) out.ioPriority = (IOPRIO_CLASSES[p.ioPriority.class] << IOPRIO_CLASS_SHIFT) | p.ioPriority.priority;
  // The spec: "not applicable to the container's init process". CRI-O, for
  // one, pins `exec` sessions with it; applying it to the init would pin the
  // workload itself.
  if (role === 'exec' && p.execCPUAffinity) {
    const { initial, final } = p.execCPUAffinity;
    if (initial) out.cpuAffinityInitial = cpuMask(initial);
    if (final) out.cpuAffinityFinal = cpuMask(final);
  }
  return out;
}

export function planPersonality(p: LinuxPersonality | undefined): number | undefined {
  return p ? PERSONALITY_DOMAINS[p.domain] : undefined;
}
