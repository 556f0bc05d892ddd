// The process extras as the container sees them: scheduling policy, I/O
// priority, personality, CPU affinity (exec processes only, per the spec), and
// AppArmor's refusal on a host without it (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, constants, openSync, readFileSync, readSync, mkdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from './harness.js';
import type { Spec } from '../../src/oci/types.js';
import { buildInitPlan } from '../../src/lifecycle/init-plan.js';
import { planProcess } from '../../src/process/process-plan.js';
import { encodePlan } from '../../src/native/plan-encode.js';
import { helperPath, native, type ExitStatus } from '../../src/native/binding.js';
import { apparmorEnabled } from '../../src/process/host-checks.js';

/** Fields 19 (nice), 40 (rt_priority) and 41 (policy) of /proc/self/stat. */
const STAT = 'cut -d" " -f19,40,41 /proc/self/stat';

describe.runIf(isRoot)('process attributes', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  function sh(script: string, edit: (s: Spec) => void) {
    const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', script]; edit(s); });
    return h.run(['run', '--bundle', bundle, h.id()]);
  }

  it.each([
    [{ policy: 'SCHED_RR', priority: 7 }, '0 7 2'],
    [{ policy: 'SCHED_FIFO', priority: 42 }, '0 42 1'],
    [{ policy: 'SCHED_OTHER', nice: 5 }, '5 0 0'],
    [{ policy: 'SCHED_BATCH', nice: -3 }, '-3 0 3'],
    [{ policy: 'SCHED_IDLE' }, '0 0 5'],
  ] as const)('applies scheduler %j', (scheduler, stat) => {
    const r = sh(STAT, (s) => { s.process!.scheduler = { ...scheduler }; });
    expect(r).toMatchObject({ status: 0, stdout: `${stat}\n`, stderr: '' });
  });

  it('keeps SCHED_FLAG_RESET_ON_FORK: children start as SCHED_OTHER', () => {
    const r = sh(`${STAT}; cut -d" " -f40,41 /proc/1/stat`, (s) => {
      s.process!.scheduler = { policy: 'SCHED_RR', priority: 3, flags: ['SCHED_FLAG_RESET_ON_FORK'] };
    });
    // cut is a child of the shell (reset); /proc/1 is the shell itself.
    expect(r.stdout).toBe('0 0 0\n3 2\n');
  });

  it('fails create cleanly where the kernel refuses the policy (real-time in a user namespace)', () => {
    const r = sh('true', (s) => {
      s.process!.scheduler = { policy: 'SCHED_FIFO', priority: 5 };
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ocirun: set scheduler policy 1: sched_setattr: EPERM[^\n]*\n$/);
  });

  it.each([
    [{ class: 'IOPRIO_CLASS_BE', priority: 6 }, 'best-effort: prio 6'],
    [{ class: 'IOPRIO_CLASS_RT', priority: 1 }, 'realtime: prio 1'],
    [{ class: 'IOPRIO_CLASS_IDLE', priority: 0 }, 'idle'],
  ] as const)('applies I/O priority %j', (ioPriority, shown) => {
    const r = sh('ionice -p 1', (s) => { s.process!.ioPriority = { ...ioPriority }; });
    expect(r).toMatchObject({ status: 0, stdout: `${shown}\n` });
  });

  it('applies the personality domain', () => {
    expect(sh('uname -m', (s) => { s.linux!.personality = { domain: 'LINUX32' }; }).stdout).toBe('i686\n');
    expect(sh('uname -m', (s) => { s.linux!.personality = { domain: 'LINUX' }; }).stdout).toBe('x86_64\n');
  });

  it('leaves the init affinity alone: execCPUAffinity is for exec processes', () => {
    const host = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.*)$/m)![1];
    const r = sh('grep ^Cpus_allowed_list: /proc/self/status', (s) => { s.process!.execCPUAffinity = { initial: '0', final: '0' }; });
    expect(r.stdout).toBe(`Cpus_allowed_list:\t${host}\n`);
  });

  it('pins an exec-role process: initial in the helper, final before execve', async () => {
    const out = join(h.work, 'affinity.out');
    const state = join(h.work, 'affinity-state');
    mkdirSync(state, { mode: 0o711 });
    native().mkfifo(join(state, 'exec.fifo'), 0o622);
    const spec = JSON.parse(readFileSync(join(h.bundle((s) => {
      // The helper's own CPU after the initial mask, then ours after the final one.
      s.process!.args = ['sh', '-c', 'grep ^Cpus_allowed_list: /proc/self/status'];
      s.process!.execCPUAffinity = { initial: '1', final: '0' };
    }), 'config.json'), 'utf8')) as Spec;
    const plan = buildInitPlan(spec, { id: 'affinity', bundle: h.work, rootfs: h.rootfs, stateDir: state, noPivot: false, debug: false });
    plan.process = { ...plan.process, ...planProcess(spec.process!, 'exec') };
    const fd = openSync(out, 'w');
    let pidfd = -1;
    try {
      const spawned = await native().spawnContainer({ helper: helperPath(), plan: encodePlan(plan), stdio: [fd, fd, fd] });
      pidfd = spawned.pidfd;
      // Stage 0 ran with the initial mask and its child, the init, inherited it.
      expect(readFileSync(`/proc/${spawned.pid}/status`, 'utf8')).toMatch(/^Cpus_allowed_list:\s*1$/m);
      // Recorded (as create does): the init may now outlive the helper's socket.
      writeSync(spawned.controlFd, 'c');
      closeSync(spawned.controlFd);
      const fifo = openSync(join(state, 'exec.fifo'), constants.O_RDONLY | constants.O_NONBLOCK);
      const status = await new Promise<ExitStatus>((resolve) => {
        native().watchExit(pidfd, resolve);
        void waitFor(() => { try { return readSync(fifo, Buffer.alloc(1)) === 1; } catch { return false; } });
      });
      closeSync(fifo);
      expect(status).toMatchObject({ exitCode: 0 });
      expect(readFileSync(out, 'utf8')).toBe('Cpus_allowed_list:\t0\n');
    } finally {
      closeSync(fd);
      if (pidfd >= 0) closeSync(pidfd);
      rmSync(state, { recursive: true, force: true });
    }
  });

  it.runIf(!apparmorEnabled())('refuses an AppArmor profile on this host, which has no AppArmor', () => {
    const r = sh('true', (s) => { s.process!.apparmorProfile = 'docker-default'; });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('ocirun: process.apparmorProfile: AppArmor is not enabled on this host, cannot apply profile "docker-default"\n');
    expect(h.stateDirs()).toEqual([]);
  });
});
