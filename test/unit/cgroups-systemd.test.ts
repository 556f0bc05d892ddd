// The systemd driver's pure parts: runc's cgroupsPath rules (slice:prefix:name),
// systemd's slice nesting, and linux.resources → unit properties with runc's
// conversions; and what is refused before anything is made.
import { describe, expect, it } from 'vitest';
import { expandSlice, parseSystemdPath, scopeDir } from '../../src/cgroups/systemd-unit.js';
import { cpuQuotaPerSecUSec, INFINITY, rangeToBits, resourceProperties, scopeProperties, type UnitProperty } from '../../src/cgroups/systemd-props.js';
import { planContainerCgroup } from '../../src/cgroups/container.js';
import { cgroupPlacement } from '../../src/cgroups/container.js';
import { parseLayout } from '../../src/cgroups/layout.js';
import { createContext } from '../../src/context.js';
import { Logger } from '../../src/log.js';
import type { Spec } from '../../src/oci/types.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const byName = (props: UnitProperty[]): Record<string, unknown> => Object.fromEntries(props.map((p) => [p.name, p.value]));

describe('systemd cgroupsPath', () => {
  it('follows runc: default unit and slice, three parts, empty slice = system.slice', () => {
    expect(parseSystemdPath(undefined, 'c1')).toEqual({ unit: 'ocirun-c1.scope', slice: 'system.slice' });
    expect(parseSystemdPath('', 'c1')).toEqual({ unit: 'ocirun-c1.scope', slice: 'system.slice' });
    expect(parseSystemdPath('kubepods-burstable-pod12ab.slice:cri-containerd:deadbeef', 'x'))
      .toEqual({ unit: 'cri-containerd-deadbeef.scope', slice: 'kubepods-burstable-pod12ab.slice' });
    expect(parseSystemdPath(':docker:1234', 'x')).toEqual({ unit: 'docker-1234.scope', slice: 'system.slice' });
  });

  it.each([
    ['/kubepods/besteffort/pod1/c1', 'expected "slice:prefix:name" with the systemd cgroup driver, got "/kubepods/besteffort/pod1/c1"'],
    ['a.slice:b', 'expected "slice:prefix:name"'],
    ['a.slice:b:c:d', 'expected "slice:prefix:name"'],
    ['nope:p:n', '"nope" is not a valid slice name'],
    ['a--b.slice:p:n', '"a--b.slice" is not a valid slice name'],
    ['-a.slice:p:n', '"-a.slice" is not a valid slice name'],
    ['system.slice:p:my.slice', 'a slice as the container\'s own unit is not supported'],
    ['system.slice:p:a/b', '"p-a/b.scope" is not a valid systemd unit name'],
    ['system.slice:p:a b', 'is not a valid systemd unit name'],
  ])('refuses %s in one line', (path, message) => {
    expect(() => parseSystemdPath(path, 'x')).toThrow(message);
    expect(() => parseSystemdPath(path, 'x')).toThrow(/^linux\.cgroupsPath: [^\n]+$/);
  });

  it('expands slices as systemd nests them', () => {
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('-.slice')).toBe('/');
    expect(scopeDir({ unit: 'x-1.scope', slice: 'kubepods-besteffort.slice' }))
      .toBe('/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/x-1.scope');
    expect(scopeDir({ unit: 'x-1.scope', slice: '-.slice' })).toBe('/sys/fs/cgroup/x-1.scope');
  });
});

describe('systemd unit properties', () => {
  it('creates a delegated scope with the init pid and accounting on, as runc', () => {
    const p = byName(scopeProperties({ slice: 'a.slice', pid: 42, description: 'd' }));
    expect(p).toEqual({
      Description: 'd', Slice: 'a.slice', PIDs: [42], Delegate: true, MemoryAccounting: true, CPUAccounting: true,
      IOAccounting: true, TasksAccounting: true, DefaultDependencies: false,
    });
  });

  it('rounds CPUQuotaPerSecUSec up to whole percents (runc addCpuQuota)', () => {
    expect(cpuQuotaPerSecUSec(50_000, 100_000)).toBe(500_000n);
    expect(cpuQuotaPerSecUSec(12_345, 100_000)).toBe(130_000n);
    expect(cpuQuotaPerSecUSec(20_000, undefined)).toBe(200_000n);  // default period
    expect(cpuQuotaPerSecUSec(1, 1_000_000)).toBe(10_000n);
    expect(cpuQuotaPerSecUSec(-1, 100_000)).toBe(INFINITY);
  });

  it('maps linux.resources with runc\'s conversions', () => {
    const p = byName(resourceProperties({
      memory: { limit: 64 << 20, reservation: 32 << 20, swap: 96 << 20 },
      cpu: { shares: 1024, quota: 25_000, period: 50_000, cpus: '0-2,9', mems: '0' },
      pids: { limit: 100 },
      blockIO: { weight: 500 },
    }, 252));
    expect(p).toEqual({
      MemoryMax: BigInt(64 << 20), MemoryLow: BigInt(32 << 20), MemorySwapMax: BigInt(32 << 20),
      CPUWeight: 39n, CPUQuotaPeriodUSec: 50_000n, CPUQuotaPerSecUSec: 500_000n,
      AllowedCPUs: new Uint8Array([0x07, 0x02]), AllowedMemoryNodes: new Uint8Array([0x01]),
      TasksMax: 100n, IOWeight: 4950n,
    });
  });

  it('spells "no limit" as infinity, and leaves pids 0 and unknown unified keys to the files', () => {
    expect(byName(resourceProperties({ memory: { limit: -1 }, pids: { limit: -1 } }, 252)))
      .toEqual({ MemoryMax: INFINITY, MemorySwapMax: INFINITY, TasksMax: INFINITY });
    expect(resourceProperties({ pids: { limit: 0 } }, 252)).toEqual([]);
    expect(byName(resourceProperties({ unified: { 'memory.high': '1000', 'cpu.max': 'max 20000', 'pids.max': 'max', 'io.weight': '50' } }, 252)))
      .toEqual({ MemoryHigh: 1000n, CPUQuotaPeriodUSec: 20_000n, CPUQuotaPerSecUSec: INFINITY, TasksMax: INFINITY });
  });

  it('leaves what an old systemd lacks to the files (period < 242, cpuset < 244)', () => {
    expect(byName(resourceProperties({ cpu: { quota: 50_000, period: 100_000, cpus: '1' } }, 241)))
      .toEqual({ CPUQuotaPerSecUSec: 500_000n });
  });

  it('refuses a CPU list that is not one', () => {
    expect(rangeToBits('3', 'f')).toEqual(new Uint8Array([0x08]));
    expect(() => rangeToBits('2-1', 'linux.resources.cpu.cpus')).toThrow('linux.resources.cpu.cpus: "2-1" is not a list of numbers and ranges');
    expect(() => rangeToBits('a', 'f')).toThrow('is not a list');
  });
});

describe('the systemd driver before anything is made', () => {
  const spec = (cgroupsPath?: string): Spec => ({ ociVersion: '1.0.2', root: { path: 'rootfs' }, linux: { cgroupsPath } });
  const ctx = (rootless = false) => createContext({
    root: mkdtempSync(join(tmpdir(), 'ocirun-sd-')), cgroupManager: 'systemd', rootless, logger: new Logger({}),
  });
  const UNIFIED = parseLayout('30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n');
  const HYBRID = parseLayout('41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n');

  it('refuses cgroup v1/hybrid hosts and rootless in one line', () => {
    expect(() => planContainerCgroup(ctx(), spec(), 'c1', HYBRID))
      .toThrow('--systemd-cgroup (--cgroup-manager systemd): needs a unified cgroup v2 host; this one has hybrid cgroups');
    expect(() => planContainerCgroup(ctx(true), spec(), 'c1', UNIFIED)).toThrow(/^--systemd-cgroup .*not supported rootless yet/);
  });

  it('places the init through the runtime, not by clone3 into a directory', () => {
    const record = { version: 2 as const, dirs: { '': '/sys/fs/cgroup/system.slice/ocirun-c1.scope' }, created: [], systemd: { unit: 'ocirun-c1.scope', slice: 'system.slice' } };
    expect(cgroupPlacement(record, spec())).toEqual({ procs: [], byRuntime: true });
  });
});
