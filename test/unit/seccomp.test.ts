// The TypeScript half of seccomp: validation with JSON paths, the plan records
// (actions, errno, comparisons, listener state) and the features document.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { validateSpec } from '../../src/config/validate.js';
import { formatProblem } from '../../src/errors.js';
import { features } from '../../src/features.js';
import { encodePlan } from '../../src/native/plan-encode.js';
import { printPlan } from '../support/plan.js';
import { buildInitPlan } from '../../src/lifecycle/init-plan.js';
import type { LinuxSeccomp } from '../../src/oci/types.js';
import { planSeccomp, seccompAction } from '../../src/seccomp/seccomp-plan.js';
import { kernelVersion, seccompFeatures, supportedSeccompFlags } from '../../src/seccomp/features.js';
import { checkProcessHost } from '../../src/process/host-checks.js';
import { seccompCacheDir, seccompCacheKey } from '../../src/seccomp/cache.js';
import { fileURLToPath } from 'node:url';
import { utimesSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Report } from '../../src/config/report.js';

const base = (): any => ({
  ociVersion: '1.2.0',
  root: { path: 'rootfs' },
  process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: 'mount' }] },
});

function check(seccomp: unknown): { problems: string[]; warnings: string[] } {
  const c = base();
  c.linux.seccomp = seccomp;
  const r = validateSpec(c);
  return { problems: r.problems.map(formatProblem), warnings: r.warnings.map(formatProblem) };
}

const ctx = { id: 'c1', bundle: '/b', annotations: { a: 'b' } };

describe('seccomp validation', () => {
  it('accepts a full profile', () => {
    const r = check({
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'],
      listenerPath: '/run/agent.sock', listenerMetadata: 'x',
      syscalls: [
        { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
        { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['made_up_syscall'], action: 'SCMP_ACT_KILL_PROCESS' },
      ],
    });
    expect(r).toEqual({ problems: [], warnings: [] });
  });

  it.each([
    [{ defaultAction: 'SCMP_ACT_MAYBE' }, 'linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_MAYBE"'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_DENY' }] },
      'linux.seccomp.syscalls[0].action: unknown seccomp action "SCMP_ACT_DENY"'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ISH' }] }] },
      'linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "SCMP_CMP_ISH"'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }] },
      'linux.seccomp.syscalls[0].args[0].index: must be an integer between 0 and 5'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] }, 'linux.seccomp.architectures[0]: unknown seccomp architecture "SCMP_ARCH_Z80"'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_LOONGARCH64'] },
      'linux.seccomp.architectures[0]: SCMP_ARCH_LOONGARCH64 is not supported by the libseccomp in ocirun-init'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_FAST'] }, 'linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_FAST"'],
    [{ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/x' }, 'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] },
      'linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY requires linux.seccomp.listenerPath'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/x', syscalls: [{ names: ['mkdir', 'sendmsg'], action: 'SCMP_ACT_NOTIFY' }] },
      'linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for sendmsg: ocirun needs it to hand the notify fd to the listener'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: `/${'x'.repeat(120)}`, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] },
      'linux.seccomp.listenerPath: must be at most 107 bytes (a unix socket path)'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', ''], action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names[1]: must not be empty'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }, 'linux.seccomp.syscalls[0].names: must not be empty'],
    [{ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }, 'linux.seccomp.defaultErrnoRet: must be at most 65535'],
    [{ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: 'agent.sock' }, 'linux.seccomp.listenerPath: must be an absolute path'],
    [{ syscalls: [] }, 'linux.seccomp.defaultAction: is required'],
  ])('refuses %j', (sc, message) => {
    expect(check(sc).problems).toEqual([message]);
  });

  it('warns about settings that have no effect', () => {
    const r = check({
      defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1, listenerPath: '/run/a.sock',
      flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_KILL', errnoRet: 5 }],
    });
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([
      'linux.seccomp.defaultErrnoRet: ignored: defaultAction is SCMP_ACT_ALLOW',
      'linux.seccomp.syscalls[0].errnoRet: ignored: action is SCMP_ACT_KILL',
      'linux.seccomp.listenerPath: ignored: no rule uses SCMP_ACT_NOTIFY',
      'linux.seccomp.flags[0]: ignored: no rule uses SCMP_ACT_NOTIFY',
    ]);
  });

  it('refuses flags the running kernel does not have', () => {
    const c = base();
    c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] };
    const r = new Report();
    checkProcessHost(c, r, { apparmor: () => false, kernel: () => '5.10.0-21-amd64' });
    expect(r.problems().map(formatProblem)).toEqual([
      'linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs Linux 5.19 or newer (running 5.10.0-21-amd64)',
    ]);
  });
});

describe('seccomp plan', () => {
  it('encodes actions as SCMP_ACT_* values, errno and trace defaulting to EPERM', () => {
    expect(seccompAction('SCMP_ACT_ALLOW')).toBe(0x7fff0000);
    expect(seccompAction('SCMP_ACT_ERRNO')).toBe(0x00050001);
    expect(seccompAction('SCMP_ACT_ERRNO', 38)).toBe(0x00050026);
    expect(seccompAction('SCMP_ACT_TRACE')).toBe(0x7ff00001);
    expect(seccompAction('SCMP_ACT_KILL')).toBe(0);
    expect(seccompAction('SCMP_ACT_KILL_PROCESS')).toBe(0x80000000);
    expect(seccompAction('SCMP_ACT_KILL', 5)).toBe(0);
    expect(() => seccompAction('SCMP_ACT_NOPE')).toThrow(RangeError);
  });

  it('keeps names and comparisons as data and drops TSYNC', () => {
    const sc: LinuxSeccomp = {
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 13,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X32'],
      flags: ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 10, op: 'SCMP_CMP_EQ' }] },
        // JSON turns 2^64-1 into 2^64; the plan carries the real maximum.
        { names: ['ioctl'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 2 ** 64, valueTwo: 0x5401, op: 'SCMP_CMP_MASKED_EQ' }] },
      ],
    };
    expect(planSeccomp(sc, ctx)).toEqual({
      defaultAction: 0x0005000d,
      arches: ['x86_64', 'x32'],
      flags: 2,
      rules: [
        { names: ['socket'], action: 0x00050061, args: [{ index: 0, op: 4, value: 10n, valueTwo: 0n }] },
        { names: ['ioctl'], action: 0x7fff0000, args: [{ index: 1, op: 7, value: 0xffffffffffffffffn, valueTwo: 0x5401n }] },
      ],
    });
  });

  it('cuts the container process state where the pid goes', () => {
    const plan = planSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', listenerMetadata: 'MKDIR=bar',
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
    }, ctx);
    expect(plan.listener!.path).toBe('/run/agent.sock');
    expect(plan.listener!.state).toHaveLength(3);
    expect(JSON.parse(plan.listener!.state.join('4242'))).toEqual({
      ociVersion: '1.2.1', fds: ['seccompFd'], pid: 4242, metadata: 'MKDIR=bar',
      state: { ociVersion: '1.2.1', id: 'c1', status: 'created', pid: 4242, bundle: '/b', annotations: { a: 'b' } },
    });
  });

  it('travels inside the process record of the helper plan', () => {
    const spec = base();
    spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    spec.linux.personality = { domain: 'LINUX32' };
    const plan = buildInitPlan(spec, { id: 'x', bundle: '/b', rootfs: '/r', stateDir: '/s/x', noPivot: false, debug: false });
    expect(plan.process.seccomp!.rules).toEqual([{ names: ['mkdir'], action: 0x00050001, args: [] }]);
    expect(plan.process.personality).toBe(8);
    // What the helper reads: the rule inside the process, next to the persona.
    const back = printPlan(encodePlan(plan));
    expect(back.error).toBe('');
    const proc = (back.plan as { process: { seccomp: { rules: unknown }; personality: number } }).process;
    expect(proc.seccomp.rules).toEqual([{ names: ['mkdir'], action: 0x00050001, args: [] }]);
    expect(proc.personality).toBe(8);
  });
});

describe('seccomp features', () => {
  const f = features();

  it('reports seccomp and AppArmor from the tables', () => {
    expect(f.linux!.seccomp).toEqual(seccompFeatures());
    expect(f.linux!.seccomp!.enabled).toBe(true);
    expect(f.linux!.seccomp!.actions).toContain('SCMP_ACT_NOTIFY');
    expect(f.linux!.seccomp!.operators).toContain('SCMP_CMP_MASKED_EQ');
    expect(f.linux!.seccomp!.archs).toContain('SCMP_ARCH_X86_64');
    expect(f.linux!.seccomp!.archs).not.toContain('SCMP_ARCH_LOONGARCH64');
    expect(f.linux!.seccomp!.knownFlags).toHaveLength(4);
    expect(f.linux!.apparmor).toEqual({ enabled: true });
  });

  it('advertises only what the validator accepts', () => {
    const sc = f.linux!.seccomp!;
    const r = check({
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: sc.archs,
      syscalls: sc.actions!.filter((a) => a !== 'SCMP_ACT_NOTIFY').map((action) => ({
        names: ['mkdir'], action, args: sc.operators!.map((op, index) => ({ index: index % 6, value: 1, op })),
      })),
    });
    expect(r.problems).toEqual([]);
  });

  it('derives supported flags from the kernel version', () => {
    expect(kernelVersion('6.18.44-fc-v657')).toEqual([6, 18]);
    expect(supportedSeccompFlags([4, 14])).toEqual(['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG']);
    expect(supportedSeccompFlags([6, 1])).toHaveLength(4);
  });

  it('keeps the Docker-shaped fixture valid', () => {
    const profile = JSON.parse(readFileSync(new URL('../fixtures/seccomp-docker-default.json', import.meta.url), 'utf8'));
    const r = check(profile);
    expect(r).toEqual({ problems: [], warnings: [] });
    const names = new Set<string>(profile.syscalls.flatMap((s: { names: string[] }) => s.names));
    expect(names.size).toBeGreaterThan(300);
  });
});

describe('seccomp compiled-filter cache key', () => {
  const profile: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/a.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };

  it('names one entry per profile, helper binary and kernel, not per container', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ocirun-key-'));
    try {
      const helper = join(dir, 'ocirun-init');
      writeFileSync(helper, 'v1');
      const key = (sc: LinuxSeccomp, c = ctx, kernel?: string) => seccompCacheKey(planSeccomp(sc, c), helper, kernel);
      const k = key(profile);
      expect(k).toMatch(/^[0-9a-f]{64}$/);
      // The listener's state (id, bundle, a random pid marker) is not part of it.
      expect(key(profile, { id: 'other', bundle: '/elsewhere' })).toBe(k);
      expect(key({ ...profile, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] })).not.toBe(k);
      expect(key({ ...profile, architectures: ['SCMP_ARCH_X86'] })).not.toBe(k);
      expect(key(profile, ctx, '0.0.0-other')).not.toBe(k);
      utimesSync(helper, new Date(1000), new Date(2000));
      expect(key(profile)).not.toBe(k);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lives beside the state root, where list and delete do not look', () => {
    expect(seccompCacheDir('/run/ocirun')).toBe('/run/ocirun.seccomp-cache');
    const plan = planSeccomp(profile, ctx, { dir: '/run/ocirun.seccomp-cache', helper: fileURLToPath(import.meta.url) });
    expect(plan.cache).toEqual({ dir: '/run/ocirun.seccomp-cache', key: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});
