// Resource usage in the shape of runc's `events` (types/events.go), read from
// v1 or v2 files. Counters are bigints: memory limits read 2^63 and more.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseKeyed, parseNumber, readOptional } from './files.js';

export interface BlkioEntry { major: bigint; minor: bigint; op: string; value: bigint }
export interface MemoryEntry { limit: bigint; usage?: bigint; max?: bigint; failcnt: bigint }

export interface Stats {
  cpu: {
    usage: { total?: bigint; percpu?: bigint[]; kernel: bigint; user: bigint };
    throttling: { periods?: bigint; throttled_periods?: bigint; throttled_time?: bigint };
  };
  memory: {
    cache?: bigint;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP?: MemoryEntry;
    raw?: Record<string, bigint>;
  };
  pids: { current?: bigint; limit?: bigint };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: bigint; max?: bigint; failcnt: bigint }>;
}

/** What runc reports for "no limit". */
const UNLIMITED = 2n ** 64n - 1n;
/** USER_HZ: cpuacct.stat counts in ticks. */
const NS_PER_TICK = 10_000_000n;

const file = (dir: string | undefined, name: string): string | undefined => (dir ? readOptional(join(dir, name)) : undefined);
const num = (dir: string | undefined, name: string): bigint | undefined => parseNumber(file(dir, name));

function record(map: Map<string, bigint>): Record<string, bigint> | undefined {
  return map.size > 0 ? Object.fromEntries(map) : undefined;
}

/** blkio "254:0 Read 4096" lines (v1). */
function blkioLines(text: string | undefined): BlkioEntry[] | undefined {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: BigInt(m[1]), minor: BigInt(m[2]), op: m[3], value: BigInt(m[4]) });
  }
  return out.length > 0 ? out : undefined;
}

function hugepageSizes(dir: string | undefined): string[] {
  if (!dir) return [];
  try {
    return [...new Set(readdirSync(dir).map((f) => /^hugetlb\.([0-9]+[KMG]B)\./.exec(f)?.[1]).filter((s): s is string => !!s))];
  } catch {
    return [];
  }
}

export function v1Stats(dirOf: (controller: string) => string | undefined): Stats {
  const cpu = dirOf('cpu');
  const acct = dirOf('cpuacct');
  const mem = dirOf('memory');
  const pids = dirOf('pids');
  const blkio = dirOf('blkio');
  const hugetlb = dirOf('hugetlb');
  const throttle = parseKeyed(file(cpu, 'cpu.stat'));
  const acctStat = parseKeyed(file(acct, 'cpuacct.stat'));
  const percpu = file(acct, 'cpuacct.usage_percpu')?.trim().split(/\s+/).filter(Boolean).map(BigInt);
  const entry = (prefix: string): MemoryEntry => ({
    limit: num(mem, `${prefix}.limit_in_bytes`) ?? 0n,
    usage: num(mem, `${prefix}.usage_in_bytes`),
    max: num(mem, `${prefix}.max_usage_in_bytes`),
    failcnt: num(mem, `${prefix}.failcnt`) ?? 0n,
  });
  const raw = parseKeyed(file(mem, 'memory.stat'));
  const memory: Stats['memory'] = {
    cache: raw.get('total_cache') ?? raw.get('cache'),
    usage: entry('memory'),
    swap: entry('memory.memsw'),
    kernel: entry('memory.kmem'),
    kernelTCP: entry('memory.kmem.tcp'),
    raw: record(raw),
  };
  const pidsMax = num(pids, 'pids.max');
  const sizes = hugepageSizes(hugetlb);
  return {
    cpu: {
      usage: {
        total: num(acct, 'cpuacct.usage'),
        percpu,
        kernel: (acctStat.get('system') ?? 0n) * NS_PER_TICK,
        user: (acctStat.get('user') ?? 0n) * NS_PER_TICK,
      },
      throttling: { periods: throttle.get('nr_periods'), throttled_periods: throttle.get('nr_throttled'), throttled_time: throttle.get('throttled_time') },
    },
    memory,
    pids: { current: num(pids, 'pids.current'), limit: pidsMax },
    blkio: {
      ioServiceBytesRecursive: blkioLines(file(blkio, 'blkio.throttle.io_service_bytes_recursive')),
      ioServicedRecursive: blkioLines(file(blkio, 'blkio.throttle.io_serviced_recursive')),
    },
    hugetlb: Object.fromEntries(sizes.map((s) => [s, {
      usage: num(hugetlb, `hugetlb.${s}.usage_in_bytes`),
      max: num(hugetlb, `hugetlb.${s}.max_usage_in_bytes`),
      failcnt: num(hugetlb, `hugetlb.${s}.failcnt`) ?? 0n,
    }])),
  };
}

export function v2Stats(dir: string): Stats {
  const cpuStat = parseKeyed(file(dir, 'cpu.stat'));
  const us = (k: string): bigint | undefined => { const v = cpuStat.get(k); return v === undefined ? undefined : v * 1000n; };
  const raw = parseKeyed(file(dir, 'memory.stat'));
  const events = parseKeyed(file(dir, 'memory.events'));
  const current = num(dir, 'memory.current');
  const swapCurrent = num(dir, 'memory.swap.current');
  const limitOf = (name: string): bigint => (file(dir, name)?.trim() === 'max' ? UNLIMITED : num(dir, name) ?? 0n);
  const memLimit = limitOf('memory.max');
  const swapLimit = limitOf('memory.swap.max');
  // runc reports memory+swap as "swap", as v1's memsw did.
  const swap: MemoryEntry = {
    limit: memLimit === UNLIMITED || swapLimit === UNLIMITED ? UNLIMITED : memLimit + swapLimit,
    usage: current !== undefined && swapCurrent !== undefined ? current + swapCurrent : undefined,
    failcnt: 0n,
  };
  const io = ioStat(file(dir, 'io.stat'));
  return {
    cpu: {
      usage: { total: us('usage_usec'), kernel: us('system_usec') ?? 0n, user: us('user_usec') ?? 0n },
      throttling: { periods: cpuStat.get('nr_periods'), throttled_periods: cpuStat.get('nr_throttled'), throttled_time: us('throttled_usec') },
    },
    memory: {
      cache: raw.get('file'),
      usage: { limit: memLimit, usage: current, max: num(dir, 'memory.peak'), failcnt: events.get('max') ?? 0n },
      swap,
      kernel: { limit: 0n, usage: raw.get('kernel') ?? raw.get('kernel_stack'), failcnt: 0n },
      raw: record(raw),
    },
    pids: { current: num(dir, 'pids.current'), limit: num(dir, 'pids.max') },
    blkio: io,
    hugetlb: Object.fromEntries(hugepageSizes(dir).map((s) => [s, {
      usage: num(dir, `hugetlb.${s}.current`),
      max: num(dir, `hugetlb.${s}.max`),
      failcnt: parseKeyed(file(dir, `hugetlb.${s}.events`)).get('max') ?? 0n,
    }])),
  };
}

/** io.stat "254:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." → runc's Read/Write entries. */
function ioStat(text: string | undefined): Stats['blkio'] {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kv] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const major = BigInt(m[1]);
    const minor = BigInt(m[2]);
    const v = new Map(kv.map((p) => p.split('=') as [string, string]));
    const get = (k: string): bigint => BigInt(v.get(k) ?? '0');
    bytes.push({ major, minor, op: 'Read', value: get('rbytes') }, { major, minor, op: 'Write', value: get('wbytes') });
    ios.push({ major, minor, op: 'Read', value: get('rios') }, { major, minor, op: 'Write', value: get('wios') });
  }
  return { ioServiceBytesRecursive: bytes.length ? bytes : undefined, ioServicedRecursive: ios.length ? ios : undefined };
}

/** JSON with bigints as plain numbers and undefined fields left out, as Go prints them. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}\u0000` : v))
    .replace(/"\\u0000(-?\d+)\\u0000"/g, '$1');
}
