// Config rules for linux.cgroupsPath and linux.resources that hold on any
// host (the schema already checked types and ranges). What depends on the
// host's cgroup version is checked in container.ts before anything is made.
import type { Report } from '../config/report.js';
import { index, mapKey } from '../config/report.js';
import type { Spec } from '../oci/types.js';
import { cgroupsPathProblem } from './path.js';

/** What the kernel takes as an interface name: IFNAMSIZ-1 bytes, none of them space, '/' or ':'. */
const IFNAME = /^[^\s/:]{1,15}$/;

/** cgroup files the runtime itself drives: a config setting them would fight it. */
const RUNTIME_FILES = new Set(['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'cgroup.kill', 'cgroup.freeze', 'cgroup.type']);

export function validateCgroups(spec: Spec, r: Report): void {
  const linux = spec.linux;
  if (!linux) return;
  if (r.ok('linux.cgroupsPath') && linux.cgroupsPath) {
    const problem = cgroupsPathProblem(linux.cgroupsPath);
    if (problem) r.error('linux.cgroupsPath', problem);
  }
  const res = linux.resources;
  if (!res || !r.ok('linux.resources')) return;
  const m = res.memory;
  if (m?.swap !== undefined && m.swap > 0) {
    if (m.limit === undefined || m.limit <= 0) r.error('linux.resources.memory.swap', 'cannot limit swap without linux.resources.memory.limit');
    else if (m.swap < m.limit) r.error('linux.resources.memory.swap', 'must be at least linux.resources.memory.limit (it is memory plus swap)');
  }
  if (m?.reservation !== undefined && m.reservation > 0 && m.limit !== undefined && m.limit > 0 && m.reservation > m.limit) {
    r.error('linux.resources.memory.reservation', 'must not be above linux.resources.memory.limit');
  }
  const c = res.cpu;
  if (c?.quota !== undefined && c.quota > 0 && c.quota < 1000) r.error('linux.resources.cpu.quota', 'must be at least 1000 (microseconds) or -1');
  if (c?.period !== undefined && c.period !== 0 && (c.period < 1000 || c.period > 1_000_000)) {
    r.error('linux.resources.cpu.period', 'must be between 1000 and 1000000 (microseconds)');
  }
  for (const [i, p] of (res.network?.priorities ?? []).entries()) {
    // One "name prio" line goes to net_prio.ifpriomap: a space or newline in the name would be a second entry.
    if (!IFNAME.test(p.name)) r.error(`${index('linux.resources.network.priorities', i)}.name`, 'must be a network interface name (1 to 15 characters, no whitespace, "/" or ":")');
  }
  for (const [key, value] of Object.entries(res.unified ?? {})) {
    const at = mapKey('linux.resources.unified', key);
    if (key.includes('/') || key.startsWith('.') || !key.includes('.')) r.error(at, 'must be a cgroup file name such as "memory.high"');
    else if (RUNTIME_FILES.has(key)) r.error(at, 'is managed by the runtime');
    else if (value.includes('\0')) r.error(at, 'must not contain NUL bytes');
  }
}
