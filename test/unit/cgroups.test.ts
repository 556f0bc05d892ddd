// The pure parts of src/cgroups: hierarchy discovery, cgroupsPath
// resolution, v1/v2 file writes and conversions, the device list (replayed
// as the v1 controller does, and its eBPF program run through a small
// interpreter against the same decisions), and the update flags.
import { describe, expect, it } from 'vitest';
import { parseLayout, parseMembership } from '../../src/cgroups/layout.js';
import { resolveCgroupDirs } from '../../src/cgroups/path.js';
import { blkioWeightToIoWeight, sharesToWeight, swapMax, v2Ignored, v2Writes } from '../../src/cgroups/v2-resources.js';
import { v1Writes } from '../../src/cgroups/v1-resources.js';
import {
  ACCESS, allows, deviceFilterProgram, effectiveRules, emulate, fromSpec, v1DeviceWrites, type DeviceState,
} from '../../src/cgroups/devices.js';
import { toJson } from '../../src/cgroups/stats.js';
import { bytes, resourcesFromFlags } from '../../src/cli/cgroup-commands.js';
import { mergeResources } from '../../src/lifecycle/update.js';
import { parseDuration } from '../../src/lifecycle/stats.js';
import { validateSpec } from '../../src/config/validate.js';
import { defaultSpec } from '../../src/config/default-spec.js';
import type { LinuxResources } from '../../src/oci/types.js';
import { planMounts } from '../../src/rootfs/mounts.js';
import { MS } from '../../src/oci/tables.js';

const HYBRID = `
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`;
const UNIFIED = '30 23 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';
const NESTED = '30 23 0:27 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n';

describe('cgroup hierarchies and cgroupsPath', () => {
  it('finds every hierarchy with its controllers', () => {
    const l = parseLayout(HYBRID);
    expect(l.mode).toBe('hybrid');
    expect(l.hierarchies.map((h) => [h.name, h.version, h.controllers.join(',')])).toEqual([
      ['cpu,cpuacct', 1, 'cpu,cpuacct'], ['memory', 1, 'memory'], ['systemd', 1, 'name=systemd'], ['unified', 2, ''],
    ]);
    expect(parseLayout(UNIFIED)).toEqual({ mode: 'unified', hierarchies: [{ name: '', version: 2, mountPoint: '/sys/fs/cgroup', root: '/', controllers: [] }] });
  });

  it('puts a container without cgroupsPath under /ocirun/<id> in every hierarchy', () => {
    expect(resolveCgroupDirs(undefined, 'c1', parseLayout(HYBRID))).toEqual({
      'cpu,cpuacct': '/sys/fs/cgroup/cpu,cpuacct/ocirun/c1', memory: '/sys/fs/cgroup/memory/ocirun/c1',
      systemd: '/sys/fs/cgroup/systemd/ocirun/c1', unified: '/sys/fs/cgroup/unified/ocirun/c1',
    });
    expect(resolveCgroupDirs('', 'c1', parseLayout(UNIFIED))).toEqual({ '': '/sys/fs/cgroup/ocirun/c1' });
  });

  it('takes absolute paths below the mount point, relative ones below our own cgroup', () => {
    expect(resolveCgroupDirs('/a//b/', 'x', parseLayout(UNIFIED))).toEqual({ '': '/sys/fs/cgroup/a/b' });
    const self = () => parseMembership('0::/ci/job\n');
    expect(resolveCgroupDirs('ctr', 'x', parseLayout(UNIFIED), self)).toEqual({ '': '/sys/fs/cgroup/ci/job/ctr' });
    // A mount of a subtree shows our cgroup relative to its root.
    const nested = () => parseMembership('4:memory:/docker/abc/sub\n');
    expect(resolveCgroupDirs('ctr', 'x', parseLayout(NESTED), nested)).toEqual({ memory: '/sys/fs/cgroup/memory/sub/ctr' });
  });

  it.each([
    ['/a/../../etc', 'linux.cgroupsPath: must not contain ".."'],
    ['system.slice:ocirun:x', 'linux.cgroupsPath: looks like a systemd path (slice:prefix:name), which needs the systemd driver (--systemd-cgroup)'],
    ['/', 'linux.cgroupsPath: names the root cgroup'],
  ])('refuses %s', (path, message) => {
    expect(() => resolveCgroupDirs(path, 'x', parseLayout(UNIFIED))).toThrow(message);
    const spec = defaultSpec();
    spec.linux!.cgroupsPath = path;
    // The validator knows no driver: systemd's form is refused by the cgroupfs driver alone.
    const systemdForm = path.includes(':');
    expect(validateSpec(spec).problems.map((p) => `${p.path}: ${p.message}`)).toEqual(systemdForm ? [] : [message]);
  });
});

describe('the "cgroup" mount on a v1 host', () => {
  const mount = [{ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'ro'] }];
  const dirs = resolveCgroupDirs(undefined, 'c1', parseLayout(HYBRID));
  const plan = (userNamespace: boolean, cgroupNamespace: boolean) => planMounts(mount, {
    bundle: '/b', cgroupLayout: parseLayout(HYBRID), userNamespace, cgroupNamespace, cgroupDirs: dirs,
  }).map((m) => `${m.dest} <- ${m.symlink ? `-> ${m.symlink}` : m.type || m.source}${m.flags & MS.BIND && m.remountFlags! & MS.RDONLY ? ' ro' : ''}`);

  it('binds the container\'s own cgroup of each hierarchy, as runc does, in a user namespace too', () => {
    const binds = [
      '/sys/fs/cgroup <- tmpfs',
      '/sys/fs/cgroup/cpu,cpuacct <- /sys/fs/cgroup/cpu,cpuacct/ocirun/c1 ro',
      '/sys/fs/cgroup/cpu <- -> cpu,cpuacct', '/sys/fs/cgroup/cpuacct <- -> cpu,cpuacct',
      '/sys/fs/cgroup/memory <- /sys/fs/cgroup/memory/ocirun/c1 ro',
      '/sys/fs/cgroup/systemd <- /sys/fs/cgroup/systemd/ocirun/c1 ro',
      '/sys/fs/cgroup/unified <- /sys/fs/cgroup/unified/ocirun/c1 ro',
    ];
    expect(plan(false, false)).toEqual([...binds, '/sys/fs/cgroup <- ']);
    expect(plan(true, true)).toEqual([...binds, '/sys/fs/cgroup <- ']);
  });

  it('mounts the hierarchies fresh in a cgroup namespace, where they show the container\'s cgroup', () => {
    expect(plan(false, true).filter((l) => l.includes('memory'))).toEqual(['/sys/fs/cgroup/memory <- cgroup']);
  });
});

describe('cgroup v2 files', () => {
  it('converts cpu shares and blkio weights as crun documents', () => {
    expect([2, 1024, 262144, 100000].map(sharesToWeight)).toEqual([1, 39, 10000, 3815]);
    expect([10, 500, 1000].map(blkioWeightToIoWeight)).toEqual([1, 4950, 10000]);
  });

  it('turns OCI swap (memory+swap) into memory.swap.max', () => {
    expect(swapMax(undefined, 1000)).toBeUndefined();
    expect(swapMax(undefined, -1)).toBe('max');
    expect(swapMax(-1, 1000)).toBe('max');
    expect(swapMax(3000, 1000)).toBe('2000');
    expect(swapMax(1000, 1000)).toBe('0');
    expect(() => swapMax(500, 1000)).toThrow(/at least/);
    expect(() => swapMax(500, undefined)).toThrow(/without a memory limit/);
  });

  it('writes every resource to its v2 file', () => {
    const r: LinuxResources = {
      memory: { limit: 1 << 26, reservation: 1 << 25, swap: 1 << 27 },
      cpu: { shares: 1024, quota: 20000, period: 100000, burst: 1000, idle: 0, cpus: '0-1', mems: '0' },
      pids: { limit: 0 },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 1048576 }], throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 0 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }],
      unified: { 'memory.high': '50000000', 'cgroup.max.depth': '3' },
    };
    expect(v2Writes(r).map((w) => `${w.controller}:${w.file}=${w.value}${w.fallback ? ` |${w.fallback.file}=${w.fallback.value}` : ''}`)).toEqual([
      'memory:memory.low=33554432', 'memory:memory.max=67108864', 'memory:memory.swap.max=67108864',
      'cpu:cpu.weight=39', 'cpu:cpu.max=20000 100000', 'cpu:cpu.max.burst=1000', 'cpu:cpu.idle=0',
      'cpuset:cpuset.cpus=0-1', 'cpuset:cpuset.mems=0', 'pids:pids.max=0',
      'io:io.bfq.weight=500 |io.weight=default 4950', 'io:io.max=254:0 rbps=1048576', 'io:io.max=8:16 wiops=max',
      'hugetlb:hugetlb.2MB.max=4194304', 'memory:memory.high=50000000', 'null:cgroup.max.depth=3',
    ]);
    expect(v2Writes({ pids: { limit: -1 } }, { skipPids: true })).toEqual([]);
    expect(v2Writes({ cpu: { quota: -1 } }).map((w) => w.value)).toEqual(['max']);
  });
});

describe('cgroup v1 files', () => {
  it('writes linux.resources.network to net_cls and net_prio, one ifpriomap line per interface; v2 ignores it as runc does', () => {
    const network = { classID: 0x100001, priorities: [{ name: 'lo', priority: 5 }, { name: 'eth0', priority: 0 }] };
    expect(v1Writes({ network }).map((w) => `${w.controller}/${w.file}=${w.value} (${w.field})`)).toEqual([
      'net_cls/net_cls.classid=1048577 (linux.resources.network.classID)',
      'net_prio/net_prio.ifpriomap=lo 5 (linux.resources.network.priorities[0])',
      'net_prio/net_prio.ifpriomap=eth0 0 (linux.resources.network.priorities[1])',
    ]);
    expect(v1Writes({ network: { classID: 0 } })).toEqual([]);
    expect(v2Writes({ network })).toEqual([]);
    expect(v2Ignored({ network })).toEqual(['linux.resources.network']);
    expect(v2Ignored({ network: { classID: 0, priorities: [] } })).toEqual([]);
  });

  it.each(['', 'a b', 'eth0\nlo', 'x/y', 'a:1', 'sixteen-chars-xx'])('refuses %j as a net_prio interface name', (name) => {
    const spec = defaultSpec();
    spec.linux!.resources = { network: { priorities: [{ name, priority: 1 }] } };
    expect(validateSpec(spec).problems.map((p) => p.path)).toEqual(['linux.resources.network.priorities[0].name']);
  });

  it('orders memory and memory+swap so the kernel never sees swap below memory', () => {
    const files = (current: bigint | undefined, r: LinuxResources) => v1Writes(r, { currentMemoryLimit: current }).map((w) => `${w.file}=${w.value}`);
    // Raising both past the current limit: memory+swap first.
    expect(files(100n, { memory: { limit: 1000, swap: 2000 } })).toEqual(['memory.memsw.limit_in_bytes=2000', 'memory.limit_in_bytes=1000']);
    // Lowering both: memory first.
    expect(files(5000n, { memory: { limit: 1000, swap: 2000 } })).toEqual(['memory.limit_in_bytes=1000', 'memory.memsw.limit_in_bytes=2000']);
    expect(files(undefined, { memory: { limit: -1 } })).toEqual(['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1']);
  });

  it('writes cpu, pids and blkio to their controllers', () => {
    const w = v1Writes({
      cpu: { shares: 512, period: 50000, quota: 10000, realtimeRuntime: 950000, cpus: '0' },
      pids: { limit: -1 },
      blockIO: { weight: 300, throttleWriteBpsDevice: [{ major: 254, minor: 0, rate: 4096 }] },
    });
    expect(w.map((x) => `${x.controller}/${x.file}=${x.value}${x.fallback ? `|${x.fallback.file}` : ''}`)).toEqual([
      'cpu/cpu.shares=512', 'cpu/cpu.cfs_period_us=50000', 'cpu/cpu.cfs_quota_us=10000', 'cpu/cpu.rt_runtime_us=950000',
      'cpuset/cpuset.cpus=0', 'pids/pids.max=max', 'blkio/blkio.weight=300|blkio.bfq.weight',
      'blkio/blkio.throttle.write_bps_device=254:0 4096',
    ]);
  });
});

/** Runs the device program the way the kernel would, for the opcodes it uses. */
function runBpf(prog: Buffer, type: number, access: number, major: number, minor: number): number {
  const ctx = [(access << 16) | type, major, minor];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0; pc < prog.length / 8;) {
    const code = prog[pc * 8];
    const dst = prog[pc * 8 + 1] & 0xf;
    const src = prog[pc * 8 + 1] >> 4;
    const off = prog.readInt16LE(pc * 8 + 2);
    const imm = prog.readInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x61: r[dst] = ctx[off / 4] >>> 0; break;
      case 0x54: r[dst] = (r[dst] & imm) >>> 0; break;
      case 0x74: r[dst] = r[dst] >>> imm; break;
      case 0xb4: r[dst] = imm >>> 0; break;
      case 0xbc: r[dst] = r[src]; break;
      case 0x55: if (r[dst] !== imm) pc += off; break;
      case 0x5d: if (r[dst] !== r[src]) pc += off; break;
      case 0x15: if (r[dst] === imm) pc += off; break;
      case 0x95: return r[0];
      default: throw new Error(`opcode ${code.toString(16)}`);
    }
  }
  throw new Error('fell off the end');
}

describe('device rules', () => {
  const rules = effectiveRules([{ allow: false, access: 'rwm' }, { allow: true, type: 'b', major: 8, minor: 0, access: 'r' }],
    [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229 }, { path: '/dev/p', type: 'p' }])!;
  const state = emulate(rules);

  it('denies by default and allows what containers need, linux.devices and the config rules', () => {
    expect(state.defaultAllow).toBe(false);
    expect(v1DeviceWrites(state).map((w) => `${w.file} ${w.value}`)).toEqual([
      'devices.deny a', 'devices.allow b 8:0 r', 'devices.allow c 10:229 rwm',
      'devices.allow c *:* m', 'devices.allow b *:* m',
      'devices.allow c 1:3 rwm', 'devices.allow c 1:5 rwm', 'devices.allow c 1:7 rwm', 'devices.allow c 1:8 rwm',
      'devices.allow c 1:9 rwm', 'devices.allow c 5:0 rwm', 'devices.allow c 5:2 rwm', 'devices.allow c 136:* rwm',
    ]);
    expect(allows(state, 'c', 1, 3, ACCESS.r | ACCESS.w)).toBe(true);
    expect(allows(state, 'b', 8, 0, ACCESS.r)).toBe(true);
    expect(allows(state, 'b', 8, 0, ACCESS.r | ACCESS.w)).toBe(false);
    expect(allows(state, 'b', 254, 0, ACCESS.m)).toBe(true);
    expect(allows(state, 'b', 254, 0, ACCESS.r)).toBe(false);
    expect(effectiveRules(undefined, [])).toBeUndefined();
  });

  it('replays allow and deny rules as the v1 controller does', () => {
    const s = emulate([
      fromSpec({ allow: true, access: 'rwm' }),
      fromSpec({ allow: false, type: 'c', major: 1, access: 'w' }),
      fromSpec({ allow: false, type: 'c', major: 1, access: 'r' }),
      fromSpec({ allow: true, type: 'c', major: 1, access: 'r' }),
    ]);
    expect(s).toEqual({ defaultAllow: true, exceptions: [{ type: 'c', major: 1, minor: -1, access: ACCESS.w }] });
    expect(allows(s, 'c', 1, 3, ACCESS.r)).toBe(true);
    expect(allows(s, 'c', 1, 3, ACCESS.r | ACCESS.w)).toBe(false);
    expect(allows(s, 'b', 1, 3, ACCESS.w)).toBe(true);
  });

  it('compiles to an eBPF program that decides exactly like the v1 controller', () => {
    let seed = 42;
    const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const states: DeviceState[] = [state, emulate([fromSpec({ allow: true, access: 'rwm' }), fromSpec({ allow: false, type: 'b', major: 8, access: 'rw' })])];
    for (let i = 0; i < 30; i++) {
      const list = Array.from({ length: 1 + rand(8) }, () => fromSpec({
        allow: rand(2) === 0, type: ['a', 'b', 'c'][rand(3)], major: rand(3) === 0 ? undefined : rand(4),
        minor: rand(3) === 0 ? undefined : rand(4), access: ['r', 'w', 'm', 'rw', 'rwm', 'wm'][rand(6)],
      }));
      states.push(emulate(list));
    }
    for (const s of states) {
      const prog = deviceFilterProgram(s);
      for (const type of ['b', 'c'] as const) {
        for (let major = 0; major < 5; major++) {
          for (let minor = 0; minor < 5; minor++) {
            for (let access = 1; access < 8; access++) {
              expect(runBpf(prog, type === 'b' ? 1 : 2, access, major, minor), JSON.stringify({ s, type, major, minor, access }))
                .toBe(allows(s, type, major, minor, access) ? 1 : 0);
            }
          }
        }
      }
    }
  });
});

describe('update, events and stats helpers', () => {
  it('parses runc-style sizes and flags', () => {
    expect(['1024', '512m', '1g', '1.5k', '2GiB', '-1'].map((s) => bytes('--memory', s))).toEqual([1024, 512 << 20, 1 << 30, 1536, 2 ** 31, -1]);
    expect(() => bytes('--memory', '12x')).toThrow('--memory: invalid size "12x"');
    expect(resourcesFromFlags({ memory: '64m', memorySwap: '-1', cpuQuota: '50000', cpuShare: '512', pidsLimit: '0', blkioWeight: '300', cpusetCpus: '0' })).toEqual({
      memory: { limit: 64 << 20, swap: -1 }, cpu: { quota: 50000, shares: 512, cpus: '0' }, pids: { limit: 0 }, blockIO: { weight: 300 },
    });
    expect(() => resourcesFromFlags({})).toThrow(/nothing to change/);
    expect(() => resourcesFromFlags({ resources: '/x', memory: '1m' })).toThrow('--resources cannot be combined with --memory');
    expect(() => resourcesFromFlags({ pidsLimit: 'many' })).toThrow('--pids-limit: invalid value "many"');
  });

  it('merges an update into the recorded resources', () => {
    const base: LinuxResources = { devices: [{ allow: false, access: 'rwm' }], memory: { limit: 100, swap: 200 }, pids: { limit: 5 } };
    expect(mergeResources(base, { memory: { limit: 150 }, cpu: { shares: 2 } })).toEqual({
      devices: [{ allow: false, access: 'rwm' }], memory: { limit: 150, swap: 200 }, pids: { limit: 5 }, cpu: { shares: 2 },
    });
    expect(base.memory).toEqual({ limit: 100, swap: 200 });
  });

  it('parses Go durations and prints bigints as JSON numbers', () => {
    expect(['5s', '100ms', '1m30s', '1.5s'].map(parseDuration)).toEqual([5000, 100, 90000, 1500]);
    expect(() => parseDuration('5')).toThrow(/invalid duration "5"/);
    expect(() => parseDuration('0s')).toThrow(/invalid duration/);
    expect(toJson({ a: 2n ** 64n - 1n, b: undefined, c: [1n] })).toBe('{"a":18446744073709551615,"c":[1]}');
  });
});
