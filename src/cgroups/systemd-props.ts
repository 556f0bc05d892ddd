// linux.resources → the transient unit properties systemd knows, with runc's
// conversions (libcontainer/cgroups/systemd: genV2ResourcesProperties,
// addCpuQuota, addCpuset, unifiedResToSystemdProps). Every limit is written to
// the cgroup files afterwards too (v2-resources, as runc's fs2.Set does), so
// what systemd does not know still lands and the files always win; telling
// systemd keeps it from undoing the limits when it re-applies the unit.
// Pure: the bus module turns these into D-Bus variants.
import { OciError } from '../errors.js';
import type { LinuxResources } from '../oci/types.js';
import { blkioWeightToIoWeight, sharesToWeight, swapMax } from './v2-resources.js';

/** One property: D-Bus signature and value (bigint for 't', number[] for 'au', bytes for 'ay'). */
export interface UnitProperty {
  name: string;
  sig: 's' | 'b' | 't' | 'au' | 'ay';
  value: string | boolean | bigint | number[] | Uint8Array;
}

/** systemd's USEC_INFINITY / CGROUP_LIMIT_MAX: "no limit" for every 't' limit here. */
export const INFINITY = 2n ** 64n - 1n;
/** The kernel's default cfs period (100 ms), assumed when only a quota is given. */
const DEFAULT_PERIOD = 100_000n;
/** systemd: CPUQuotaPeriodUSec since v242, AllowedCPUs/AllowedMemoryNodes since v244. */
const PERIOD_SINCE = 242;
const CPUSET_SINCE = 244;

const t = (name: string, value: bigint): UnitProperty => ({ name, sig: 't', value });
const limit = (v: number): bigint => (v === -1 ? INFINITY : BigInt(v));

/** The scope itself: what runc's Apply sends before the limits. */
export function scopeProperties(opts: { slice: string; pid: number; description: string }): UnitProperty[] {
  return [
    { name: 'Description', sig: 's', value: opts.description },
    { name: 'Slice', sig: 's', value: opts.slice },
    { name: 'PIDs', sig: 'au', value: [opts.pid] },
    // The container's own cgroup tree is ours to write (limits, freezer, device program).
    { name: 'Delegate', sig: 'b', value: true },
    { name: 'MemoryAccounting', sig: 'b', value: true },
    { name: 'CPUAccounting', sig: 'b', value: true },
    { name: 'IOAccounting', sig: 'b', value: true },
    { name: 'TasksAccounting', sig: 'b', value: true },
    // No implicit ordering against shutdown.target etc.: the engine decides when it stops.
    { name: 'DefaultDependencies', sig: 'b', value: false },
  ];
}

/**
 * runc's addCpuQuota: CPUQuotaPerSecUSec is quota per second of CPU, which
 * systemd keeps as a whole percent, so anything finer is rounded up to the
 * next 10 ms per second (the cgroup file then gets the exact value).
 */
export function cpuQuotaPerSecUSec(quota: number, period: number | undefined): bigint {
  if (quota <= 0) return INFINITY;
  const p = period ? BigInt(period) : DEFAULT_PERIOD;
  const perSec = (BigInt(quota) * 1_000_000n) / p;
  return perSec % 10_000n === 0n ? perSec : (perSec / 10_000n + 1n) * 10_000n;
}

/** runc's RangeToBits: "0-3,8" → a little-endian CPU (or node) mask, byte 0 holding 0-7. */
export function rangeToBits(list: string, field: string): Uint8Array {
  const bits: number[] = [];
  for (const raw of list.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi > 8191) throw new OciError('ERR_INVALID_CONFIG', `${field}: ${JSON.stringify(list)} is not a list of numbers and ranges`);
    for (let i = lo; i <= hi; i++) bits.push(i);
  }
  const out = new Uint8Array(Math.floor(Math.max(...bits) / 8) + 1);
  for (const b of bits) out[b >> 3] |= 1 << (b & 7);
  return out;
}

function quotaProps(quota: number, period: number | undefined, version: number): UnitProperty[] {
  const out: UnitProperty[] = [];
  if (period && version >= PERIOD_SINCE) out.push(t('CPUQuotaPeriodUSec', BigInt(period)));
  if (quota !== 0 || period) out.push(t('CPUQuotaPerSecUSec', cpuQuotaPerSecUSec(quota, period)));
  return out;
}

const UNIFIED_MEMORY: Record<string, string> = {
  'memory.high': 'MemoryHigh', 'memory.low': 'MemoryLow', 'memory.min': 'MemoryMin',
  'memory.max': 'MemoryMax', 'memory.swap.max': 'MemorySwapMax',
};

/** runc's unifiedResToSystemdProps: the unified keys systemd has a property for; the rest go to files only. */
function unifiedProps(unified: Record<string, string>, version: number): UnitProperty[] {
  const out: UnitProperty[] = [];
  for (const [key, raw] of Object.entries(unified)) {
    const v = raw.trim();
    const field = `linux.resources.unified[${JSON.stringify(key)}]`;
    const num = (s: string): bigint => {
      if (s === 'max') return INFINITY;
      if (!/^\d+$/.test(s)) throw new OciError('ERR_INVALID_CONFIG', `${field}: ${JSON.stringify(raw)} is not a number or "max"`);
      return BigInt(s);
    };
    if (key === 'cpu.max') {
      const [q, p] = v.split(/\s+/);
      out.push(...quotaProps(q === 'max' ? 0 : Number(num(q)), p === undefined ? Number(DEFAULT_PERIOD) : Number(num(p)), version));
    } else if (key === 'cpu.weight') {
      out.push(t('CPUWeight', num(v)));
    } else if ((key === 'cpuset.cpus' || key === 'cpuset.mems') && version >= CPUSET_SINCE) {
      out.push({ name: key === 'cpuset.cpus' ? 'AllowedCPUs' : 'AllowedMemoryNodes', sig: 'ay', value: rangeToBits(v, field) });
    } else if (UNIFIED_MEMORY[key]) {
      out.push(t(UNIFIED_MEMORY[key], num(v)));
    } else if (key === 'pids.max') {
      out.push(t('TasksMax', num(v)));
    }
  }
  return out;
}

/** The limits systemd knows, for StartTransientUnit and (on update) SetUnitProperties. `version`: systemd's. */
export function resourceProperties(r: LinuxResources, version: number): UnitProperty[] {
  const out: UnitProperty[] = [];
  const m = r.memory;
  if (m?.limit) out.push(t('MemoryMax', limit(m.limit)));
  if (m?.reservation) out.push(t('MemoryLow', limit(m.reservation)));
  const swap = m ? swapMax(m.swap, m.limit) : undefined;
  if (swap !== undefined) out.push(t('MemorySwapMax', swap === 'max' ? INFINITY : BigInt(swap)));
  const c = r.cpu;
  if (c?.shares) out.push(t('CPUWeight', BigInt(sharesToWeight(c.shares))));
  if (c && (c.quota || c.period)) out.push(...quotaProps(c.quota ?? 0, c.period, version));
  if (c?.cpus && version >= CPUSET_SINCE) out.push({ name: 'AllowedCPUs', sig: 'ay', value: rangeToBits(c.cpus, 'linux.resources.cpu.cpus') });
  if (c?.mems && version >= CPUSET_SINCE) out.push({ name: 'AllowedMemoryNodes', sig: 'ay', value: rangeToBits(c.mems, 'linux.resources.cpu.mems') });
  // 0 is left to the file (pids.max, once the init is in): TasksMax=0 would refuse the init itself.
  if (r.pids && (r.pids.limit > 0 || r.pids.limit === -1)) out.push(t('TasksMax', limit(r.pids.limit)));
  if (r.blockIO?.weight) out.push(t('IOWeight', BigInt(blkioWeightToIoWeight(r.blockIO.weight))));
  if (r.unified) out.push(...unifiedProps(r.unified, version));
  return out;
}
