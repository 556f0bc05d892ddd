// linux.resources → cgroup v2 files, with the v1→v2 conversions crun
// documents (crun.1.md) and runc applies. Pure: the manager does the writes.
import { OciError } from '../errors.js';
import type { LinuxBlockIO, LinuxResources, LinuxThrottleDevice } from '../oci/types.js';

export interface V2Write {
  file: string;
  value: string;
  /** The config field, for error messages. */
  field: string;
  /** The controller that provides the file; null for cgroup.* files. */
  controller: string | null;
  /** Written instead when `file` does not exist (io.weight when there is no io.bfq.weight). */
  fallback?: { file: string; value: string };
}

/** cpu.shares (2..262144) → cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  const s = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((s - 2) * 9999) / 262142);
}

/** blkio.weight (10..1000) → io.weight (1..10000). */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  const w = Math.min(Math.max(weight, 10), 1000);
  return 1 + Math.floor(((w - 10) * 9999) / 990);
}

const max = (v: number): string => (v === -1 ? 'max' : String(v));

/** OCI swap is memory+swap; memory.swap.max is swap alone (runc's ConvertMemorySwapToCgroupV2Value). */
export function swapMax(swap: number | undefined, limit: number | undefined): string | undefined {
  if (swap === undefined) return limit === -1 ? 'max' : undefined;
  if (swap === -1) return 'max';
  if (swap === 0) return limit === -1 ? 'max' : undefined;
  if (limit === undefined || limit === 0 || limit === -1) {
    throw new OciError('ERR_INVALID_CONFIG', 'linux.resources.memory.swap: cannot limit swap without a memory limit');
  }
  if (swap < limit) throw new OciError('ERR_INVALID_CONFIG', 'linux.resources.memory.swap: must be at least linux.resources.memory.limit (it is memory plus swap)');
  return String(swap - limit);
}

export interface V2Options {
  /** Leave pids.max out (applied once the init is in the cgroup, so that a limit of 0 still lets it in). */
  skipPids?: boolean;
}

export function v2Writes(r: LinuxResources, opts: V2Options = {}): V2Write[] {
  const out: V2Write[] = [];
  const add = (controller: string | null, file: string, value: string, field: string): void => {
    out.push({ file, value, field, controller });
  };
  const f = (s: string): string => `linux.resources.${s}`;
  const m = r.memory;
  if (m) {
    if (m.reservation !== undefined && m.reservation !== 0) add('memory', 'memory.low', max(m.reservation), f('memory.reservation'));
    if (m.limit !== undefined && m.limit !== 0) add('memory', 'memory.max', max(m.limit), f('memory.limit'));
    const swap = swapMax(m.swap, m.limit);
    if (swap !== undefined) add('memory', 'memory.swap.max', swap, f('memory.swap'));
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) add('cpu', 'cpu.weight', String(sharesToWeight(c.shares)), f('cpu.shares'));
    if ((c.quota !== undefined && c.quota !== 0) || c.period) {
      const quota = c.quota === undefined || c.quota <= 0 ? 'max' : String(c.quota);
      // Without a period the kernel keeps the current one.
      add('cpu', 'cpu.max', c.period ? `${quota} ${c.period}` : quota, f(c.quota !== undefined ? 'cpu.quota' : 'cpu.period'));
    }
    if (c.burst !== undefined) add('cpu', 'cpu.max.burst', String(c.burst), f('cpu.burst'));
    if (c.idle !== undefined) add('cpu', 'cpu.idle', String(c.idle), f('cpu.idle'));
    if (c.cpus) add('cpuset', 'cpuset.cpus', c.cpus, f('cpu.cpus'));
    if (c.mems) add('cpuset', 'cpuset.mems', c.mems, f('cpu.mems'));
  }
  if (r.pids && !opts.skipPids) add('pids', 'pids.max', max(r.pids.limit), f('pids.limit'));
  if (r.blockIO) out.push(...ioWrites(r.blockIO));
  for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
    add('hugetlb', `hugetlb.${h.pageSize}.max`, String(h.limit), f(`hugepageLimits[${i}].limit`));
  }
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const prefix = key.split('.')[0];
    add(prefix === 'cgroup' ? null : prefix, key, value, `linux.resources.unified[${JSON.stringify(key)}]`);
  }
  return out;
}

function ioWrites(b: LinuxBlockIO): V2Write[] {
  const out: V2Write[] = [];
  const f = (s: string): string => `linux.resources.blockIO.${s}`;
  // BFQ takes blkio's own 1..1000 scale; io.weight (the default scheduler) is 1..10000.
  if (b.weight) {
    out.push({
      file: 'io.bfq.weight', value: String(b.weight), field: f('weight'), controller: 'io',
      fallback: { file: 'io.weight', value: `default ${blkioWeightToIoWeight(b.weight)}` },
    });
  }
  for (const [i, d] of (b.weightDevice ?? []).entries()) {
    if (!d.weight) continue;
    out.push({
      file: 'io.bfq.weight', value: `${d.major}:${d.minor} ${d.weight}`, field: f(`weightDevice[${i}]`), controller: 'io',
      fallback: { file: 'io.weight', value: `${d.major}:${d.minor} ${blkioWeightToIoWeight(d.weight)}` },
    });
  }
  const limits: Array<[keyof LinuxBlockIO, string]> = [
    ['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'],
    ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops'],
  ];
  for (const [key, name] of limits) {
    for (const [i, d] of ((b[key] as LinuxThrottleDevice[] | undefined) ?? []).entries()) {
      // 0 means "no limit" in blkio.throttle; io.max spells it "max".
      out.push({ file: 'io.max', value: `${d.major}:${d.minor} ${name}=${d.rate === 0 ? 'max' : d.rate}`, field: f(`${key}[${i}]`), controller: 'io' });
    }
  }
  return out;
}

/** Fields with no v2 file at all: refused on a unified host. */
export function v2Unsupported(r: LinuxResources): string[] {
  const out: string[] = [];
  if (r.cpu?.realtimeRuntime !== undefined || r.cpu?.realtimePeriod !== undefined) out.push('linux.resources.cpu.realtimeRuntime');
  if (r.blockIO?.leafWeight || r.blockIO?.weightDevice?.some((d) => d.leafWeight)) out.push('linux.resources.blockIO.leafWeight');
  return out;
}

/** Fields v2 cannot honour but that runc ignores too: warned about. */
export function v2Ignored(r: LinuxResources): string[] {
  const out: string[] = [];
  if (r.memory?.swappiness !== undefined) out.push('linux.resources.memory.swappiness');
  if (r.memory?.disableOOMKiller) out.push('linux.resources.memory.disableOOMKiller');
  if (r.memory?.kernel !== undefined) out.push('linux.resources.memory.kernel');
  if (r.memory?.kernelTCP !== undefined) out.push('linux.resources.memory.kernelTCP');
  // net_cls and net_prio are v1-only controllers (v2 filters sockets by cgroup path instead); runc skips them.
  if (r.network?.classID || (r.network?.priorities?.length ?? 0) > 0) out.push('linux.resources.network');
  return out;
}
