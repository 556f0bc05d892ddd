// linux.resources → cgroup v1 files, one controller directory each. Pure:
// the manager does the writes (and tells us what the memory limit is now,
// which decides the order of the memory and memory+swap writes).
import type { LinuxResources, LinuxThrottleDevice, LinuxBlockIO } from '../oci/types.js';

export interface V1Write {
  controller: string;
  file: string;
  value: string;
  field: string;
  /** Written instead when `file` does not exist (blkio.bfq.weight when there is no blkio.weight). */
  fallback?: { file: string; value: string };
}

export interface V1Options {
  skipPids?: boolean;
  /** memory.limit_in_bytes now, when the cgroup already exists (update). */
  currentMemoryLimit?: bigint;
}

export function v1Writes(r: LinuxResources, opts: V1Options = {}): V1Write[] {
  const out: V1Write[] = [];
  const add = (controller: string, file: string, value: string | number, field: string): void => {
    out.push({ controller, file, value: String(value), field: `linux.resources.${field}` });
  };
  const m = r.memory;
  if (m) {
    if (m.reservation !== undefined && m.reservation !== 0) add('memory', 'memory.soft_limit_in_bytes', m.reservation, 'memory.reservation');
    const limit = m.limit !== undefined && m.limit !== 0 ? m.limit : undefined;
    // Unlimited memory with swap left unset means unlimited swap too (runc).
    const swap = m.swap !== undefined && m.swap !== 0 ? m.swap : limit === -1 ? -1 : undefined;
    const setLimit = (): void => { if (limit !== undefined) add('memory', 'memory.limit_in_bytes', limit, 'memory.limit'); };
    const setSwap = (): void => { if (swap !== undefined) add('memory', 'memory.memsw.limit_in_bytes', swap, 'memory.swap'); };
    // The kernel keeps memory <= memory+swap at every step, so raise first, lower last.
    const current = opts.currentMemoryLimit;
    if (limit !== undefined && swap !== undefined && (swap === -1 || (current !== undefined && current < BigInt(swap)))) {
      setSwap();
      setLimit();
    } else {
      setLimit();
      setSwap();
    }
    if (m.swappiness !== undefined) add('memory', 'memory.swappiness', m.swappiness, 'memory.swappiness');
    if (m.disableOOMKiller) add('memory', 'memory.oom_control', 1, 'memory.disableOOMKiller');
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) add('cpu', 'cpu.shares', c.shares, 'cpu.shares');
    if (c.period) add('cpu', 'cpu.cfs_period_us', c.period, 'cpu.period');
    if (c.quota !== undefined && c.quota !== 0) add('cpu', 'cpu.cfs_quota_us', c.quota, 'cpu.quota');
    if (c.burst !== undefined) add('cpu', 'cpu.cfs_burst_us', c.burst, 'cpu.burst');
    if (c.realtimePeriod) add('cpu', 'cpu.rt_period_us', c.realtimePeriod, 'cpu.realtimePeriod');
    if (c.realtimeRuntime !== undefined && c.realtimeRuntime !== 0) add('cpu', 'cpu.rt_runtime_us', c.realtimeRuntime, 'cpu.realtimeRuntime');
    if (c.idle !== undefined) add('cpu', 'cpu.idle', c.idle, 'cpu.idle');
    if (c.cpus) add('cpuset', 'cpuset.cpus', c.cpus, 'cpu.cpus');
    if (c.mems) add('cpuset', 'cpuset.mems', c.mems, 'cpu.mems');
  }
  if (r.pids && !opts.skipPids) add('pids', 'pids.max', r.pids.limit === -1 ? 'max' : r.pids.limit, 'pids.limit');
  if (r.blockIO) out.push(...blkioWrites(r.blockIO));
  for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
    add('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit, `hugepageLimits[${i}].limit`);
  }
  const net = r.network;
  // runc: classID 0 means unset. Each priority is one "ifname prio" write to the map.
  if (net?.classID) add('net_cls', 'net_cls.classid', net.classID, 'network.classID');
  for (const [i, p] of (net?.priorities ?? []).entries()) add('net_prio', 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `network.priorities[${i}]`);
  return out;
}

function blkioWrites(b: LinuxBlockIO): V1Write[] {
  const out: V1Write[] = [];
  const f = (s: string): string => `linux.resources.blockIO.${s}`;
  // Without CFQ (gone since 5.0) the weight lives in BFQ's files.
  if (b.weight) {
    out.push({ controller: 'blkio', file: 'blkio.weight', value: String(b.weight), field: f('weight'), fallback: { file: 'blkio.bfq.weight', value: String(b.weight) } });
  }
  for (const [i, d] of (b.weightDevice ?? []).entries()) {
    if (!d.weight) continue;
    const value = `${d.major}:${d.minor} ${d.weight}`;
    out.push({ controller: 'blkio', file: 'blkio.weight_device', value, field: f(`weightDevice[${i}]`), fallback: { file: 'blkio.bfq.weight_device', value } });
  }
  const files: Array<[keyof LinuxBlockIO, string]> = [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'], ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'], ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ];
  for (const [key, file] of files) {
    for (const [i, d] of ((b[key] as LinuxThrottleDevice[] | undefined) ?? []).entries()) {
      out.push({ controller: 'blkio', file, value: `${d.major}:${d.minor} ${d.rate}`, field: f(`${key}[${i}]`) });
    }
  }
  return out;
}

/** Fields with no v1 file on a current kernel: refused. */
export function v1Unsupported(r: LinuxResources): string[] {
  const out: string[] = [];
  if (r.unified && Object.keys(r.unified).length > 0) out.push('linux.resources.unified');
  if (r.blockIO?.leafWeight || r.blockIO?.weightDevice?.some((d) => d.leafWeight)) out.push('linux.resources.blockIO.leafWeight');
  return out;
}

/** Fields runc ignores too: kernel memory limits are deprecated (and gone from cgroup v1 since Linux 6.1). */
export function v1Ignored(r: LinuxResources): string[] {
  const out: string[] = [];
  if (r.memory?.kernel !== undefined) out.push('linux.resources.memory.kernel');
  if (r.memory?.kernelTCP !== undefined) out.push('linux.resources.memory.kernelTCP');
  return out;
}
