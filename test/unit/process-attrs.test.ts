// process.scheduler, ioPriority, execCPUAffinity, apparmorProfile and
// linux.personality: validation, host checks and the numbers the helper gets.
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../src/config/validate.js';
import { Report } from '../../src/config/report.js';
import { formatProblem } from '../../src/errors.js';
import { cpuMask, parseCpuList, planPersonality, planProcessAttrs } from '../../src/process/attrs.js';
import { planCapabilities, planProcess } from '../../src/process/process-plan.js';
import { apparmorEnabled, checkProcessHost, heldCapabilities, selinuxEnabled } from '../../src/process/host-checks.js';

const base = (): any => ({
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'mount' }] },
});

const problemsFor = (mutate: (c: any) => void): string[] => {
  const c = base();
  mutate(c);
  return validateSpec(c).problems.map(formatProblem);
};

describe('process extras: validation', () => {
  it('accepts each setting', () => {
    expect(problemsFor((c) => {
      c.process.scheduler = { policy: 'SCHED_FIFO', priority: 10, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
      c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE', priority: 7 };
      c.process.execCPUAffinity = { initial: '0', final: '0-1,3' };
      c.process.apparmorProfile = 'docker-default';
      c.linux.personality = { domain: 'LINUX32' };
    })).toEqual([]);
    expect(problemsFor((c) => {
      c.process.scheduler = { policy: 'SCHED_DEADLINE', runtime: 10_000_000, deadline: 30_000_000, period: 30_000_000 };
    })).toEqual([]);
  });

  it.each([
    [{ policy: 'SCHED_OTHER', priority: 5 }, 'process.scheduler.priority: can only be set with SCHED_FIFO or SCHED_RR'],
    [{ policy: 'SCHED_RR' }, 'process.scheduler.priority: must be between 1 and 99 with SCHED_RR'],
    [{ policy: 'SCHED_FIFO', priority: 100 }, 'process.scheduler.priority: must be between 1 and 99'],
    [{ policy: 'SCHED_BATCH', runtime: 5 }, 'process.scheduler.runtime: can only be set with SCHED_DEADLINE'],
    [{ policy: 'SCHED_DEADLINE', runtime: 5 }, 'process.scheduler: SCHED_DEADLINE needs runtime and deadline'],
    [{ policy: 'SCHED_DEADLINE', runtime: 50, deadline: 10 }, 'process.scheduler.runtime: must not exceed deadline'],
    [{ policy: 'SCHED_DEADLINE', runtime: 5, deadline: 50, period: 10 }, 'process.scheduler.deadline: must not exceed period'],
    [{ policy: 'SCHED_ISO' }, 'process.scheduler.policy: SCHED_ISO is not implemented by Linux'],
    [{ policy: 'SCHED_FAST' }, 'process.scheduler.policy: unknown scheduler policy "SCHED_FAST"'],
    [{ policy: 'SCHED_OTHER', nice: 20 }, 'process.scheduler.nice: must be an integer between -20 and 19'],
  ])('refuses scheduler %j', (scheduler, message) => {
    expect(problemsFor((c) => { c.process.scheduler = scheduler; })).toEqual([message]);
  });

  it.each([
    [(c: any) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 }; }, 'process.ioPriority.priority: must be an integer between 0 and 7'],
    [(c: any) => { c.process.ioPriority = { class: 'IOPRIO_CLASS_NONE', priority: 0 }; }, 'process.ioPriority.class: unknown I/O priority class "IOPRIO_CLASS_NONE"'],
    [(c: any) => { c.process.execCPUAffinity = { final: '3-1' }; }, 'process.execCPUAffinity.final: invalid CPU range "3-1"'],
    [(c: any) => { c.process.execCPUAffinity = { initial: '0-99999' }; }, 'process.execCPUAffinity.initial: CPU numbers must be below 8192'],
    [(c: any) => { c.process.execCPUAffinity = { initial: 'all' }; }, 'process.execCPUAffinity.initial: must be a CPU list such as "0-3,7"'],
    [(c: any) => { c.linux.personality = { domain: 'LINUX64' }; }, 'linux.personality.domain: unknown personality domain "LINUX64"'],
    [(c: any) => { c.linux.personality = { domain: 'LINUX', flags: ['ADDR_NO_RANDOMIZE'] }; }, 'linux.personality.flags[0]: unknown personality flag "ADDR_NO_RANDOMIZE"'],
  ])('refuses %#', (mutate, message) => {
    expect(problemsFor(mutate)).toEqual([message]);
  });

  it('refuses an AppArmor profile on a host without AppArmor, and accepts it with', () => {
    const spec = base();
    spec.process.apparmorProfile = 'docker-default';
    const without = new Report();
    checkProcessHost(spec, without, { apparmor: () => false, kernel: () => '6.1.0' });
    expect(without.problems().map(formatProblem)).toEqual([
      'process.apparmorProfile: AppArmor is not enabled on this host, cannot apply profile "docker-default"',
    ]);
    const withIt = new Report();
    checkProcessHost(spec, withIt, { apparmor: () => true, kernel: () => '6.1.0' });
    expect(withIt.problems()).toEqual([]);
    spec.process.apparmorProfile = '';
    checkProcessHost(spec, without, { apparmor: () => false, kernel: () => '6.1.0' });
    expect(without.problems()).toHaveLength(1);
  });

  it('detects AppArmor the way runc does', () => {
    expect(apparmorEnabled('/nonexistent/')).toBe(false);
  });
});

describe('process extras: plan', () => {
  it('plans process.selinuxLabel only where SELinux is on, for the init and for exec', () => {
    const p = base().process;
    p.selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2';
    expect(planProcessAttrs(p, 'init', { selinux: () => true }).selinuxLabel).toBe(p.selinuxLabel);
    expect(planProcessAttrs(p, 'exec', { selinux: () => true }).selinuxLabel).toBe(p.selinuxLabel);
    expect(planProcessAttrs(p, 'init', { selinux: () => false })).toEqual({});
    expect(selinuxEnabled('/nonexistent/')).toBe(false);
  });

  it('turns CPU lists into sched_setaffinity masks', () => {
    expect(parseCpuList('3,0-1,1')).toEqual([0, 1, 3]);
    expect([...cpuMask('0-1,3')]).toEqual([0b1011, 0, 0, 0, 0, 0, 0, 0]);
    const wide = cpuMask('64,127');
    expect(wide.length).toBe(16);
    expect(wide.readBigUInt64LE(8)).toBe((1n << 63n) | 1n);
  });

  it('resolves names to kernel numbers', () => {
    const p = base().process;
    p.scheduler = { policy: 'SCHED_RR', priority: 7, flags: ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_KEEP_PARAMS'] };
    p.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 6 };
    p.apparmorProfile = 'x';
    expect(planProcessAttrs(p, 'init')).toEqual({
      apparmorProfile: 'x',
      scheduler: { policy: 2, nice: 0, priority: 7, flags: 0x11, runtime: 0n, deadline: 0n, period: 0n },
      ioPriority: (2 << 13) | 6,
    });
    expect(planPersonality({ domain: 'LINUX32' })).toBe(8);
    expect(planPersonality({ domain: 'LINUX' })).toBe(0);
    expect(planPersonality(undefined)).toBeUndefined();
  });

  it('applies execCPUAffinity to exec processes only, as the spec says', () => {
    const p = base().process;
    p.execCPUAffinity = { initial: '1', final: '0' };
    expect(planProcess(p).cpuAffinityInitial).toBeUndefined();
    expect(planProcess(p).cpuAffinityFinal).toBeUndefined();
    const exec = planProcess(p, 'exec');
    expect([...exec.cpuAffinityInitial!]).toEqual([2, 0, 0, 0, 0, 0, 0, 0]);
    expect([...exec.cpuAffinityFinal!]).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('capabilities the runtime does not hold', () => {
  const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\nCapEff:\t000001fffeffffff\nCapBnd:\t000001ffffffdfff\n';
  const held = heldCapabilities(status);
  const bit = (n: number) => 1n << BigInt(n);

  it('in a user namespace of the container, only the bounding set limits (a rootless runtime permits nothing)', () => {
    const user = 'CapPrm:\t0000000000000000\nCapBnd:\t000001ffffffdfff\n';
    expect(heldCapabilities(user)).toBe(0n);
    expect(heldCapabilities(user, true)).toBe(0x000001ffffffdfffn);
  });

  it('reads what it holds from its bounding and permitted sets', () => {
    // CAP_SYS_RESOURCE (24) is not permitted, CAP_NET_RAW (13) not in the bounding set.
    expect(held & bit(24)).toBe(0n);
    expect(held & bit(13)).toBe(0n);
    expect(held & bit(0)).toBe(bit(0));
  });

  it('plans every set without them', () => {
    const names = ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_RESOURCE'];
    const plan = planCapabilities({ bounding: names, effective: names, permitted: names, inheritable: names, ambient: names }, held);
    expect(plan).toEqual({ bounding: bit(0), effective: bit(0), permitted: bit(0), inheritable: bit(0), ambient: bit(0) });
  });

  it('warns once, naming each, and does not refuse the config', () => {
    const spec = base();
    spec.process.capabilities = { bounding: ['CAP_CHOWN', 'CAP_NET_RAW'], permitted: ['CAP_SYS_RESOURCE', 'CAP_NET_RAW'] };
    const r = new Report();
    checkProcessHost(spec, r, { apparmor: () => false, kernel: () => '6.1.0', capabilities: () => held });
    expect(r.problems()).toEqual([]);
    expect(r.warnings.map(formatProblem)).toEqual(['process.capabilities: CAP_NET_RAW, CAP_SYS_RESOURCE not held by the runtime: dropped from every set']);
  });
});
