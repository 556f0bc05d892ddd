// The runtime killed at each step of create, start and delete; the helper or
// the container dying early; state damaged by hand. Afterwards state tells the
// truth, nothing hangs, delete --force clears everything and the ID is reusable.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot, waitFor } from './harness.js';
import { removeDefaultCgroupIfEmpty } from '../../src/cgroups/container.js';

// Both runtimes a caller can get: the daemon behind the front end (which is
// then what dies: the front end reports it and exits 1), and the Node CLI in
// a process of its own (OCIRUN_ENGINE=off: the call itself is killed).
describe.runIf(isRoot).each(['engine', 'node'] as const)('crashes and damage (%s)', (mode) => {
  const crashAt = (step: string) => ({ env: { OCIRUN_TEST_CRASH_AT: step, ...(mode === 'node' ? { OCIRUN_ENGINE: 'off' } : {}) } });
  /** The call ended the way its runtime's death shows to the caller. */
  const expectKilled = (r: { signal: string | null; status: number | null; stderr: string }): void => {
    if (mode === 'node') expect(r.signal, r.stderr).toBe('SIGKILL');
    else expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(/^ocirun: the ocirun daemon went away during the call/) });
  };

  let h: Harness;
  let bundle: string;
  beforeAll(async () => {
    h = await Harness.create();
    bundle = h.bundle((s) => { s.process!.args = ['sleep', '30']; });
  });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const status = (id: string) => {
    const r = h.run(['state', id]);
    return r.status === 0 ? JSON.parse(r.stdout).status : r.stderr.trim();
  };

  /** After a crash: the ID can be cleared by delete --force and used again. */
  function expectRecoverable(id: string): void {
    expect(h.run(['delete', '--force', id])).toMatchObject({ status: 0, stderr: '' });
    expect(h.stateDirs()).toEqual([]);
    expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    expect(status(id)).toBe('created');
    expect(h.run(['delete', '--force', id]).status).toBe(0);
  }

  it.each([
    // Before the init is recorded and committed, its death signal takes it with the runtime.
    ['create:claimed', 'stopped'],
    ['create:spawned', 'stopped'],
    ['create:recorded', 'stopped'],
    // Committed: the container outlives its creator, as it must.
    ['create:committed', 'created'],
  ])('create killed at %s leaves a %s container', async (step, expected) => {
    const id = h.id('crash');
    expectKilled(h.run(['create', '--bundle', bundle, id], crashAt(step)));
    await waitFor(() => status(id) === expected, 5_000);
    if (expected === 'stopped') expect(h.leakedProcesses()).toEqual([]);
    expectRecoverable(id);
  });

  it('start killed after releasing the init reports running, and start again does not hang', async () => {
    const id = h.id('crash');
    expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    expectKilled(h.run(['start', id], crashAt('start:released')));
    await waitFor(() => status(id) === 'running', 5_000);
    const again = h.run(['start', id], { timeout: 10_000 });
    expect(again).toMatchObject({ status: 1, stderr: expect.stringMatching(/already running/) });
    expectRecoverable(id);
  });

  it('delete killed after the kill leaves a stopped container a plain delete removes', () => {
    const id = h.id('crash');
    expect(h.run(['run', '--detach', '--bundle', bundle, id]).status).toBe(0);
    expectKilled(h.run(['delete', '--force', id], crashAt('delete:killed')));
    expect(status(id)).toBe('stopped');
    expect(h.run(['delete', id]).status).toBe(0);
  });

  it('exec killed before its process runs leaves no helper, and the container running', async () => {
    const id = h.id('crash');
    expect(h.run(['run', '--detach', '--bundle', bundle, id]).status).toBe(0);
    const r = h.run(['exec', id, 'sh', '-c', 'echo should-not-run'], crashAt('exec:spawned'));
    expectKilled(r);
    expect(r.stdout).toBe('');
    // The exec helper saw its runtime die and went with it.
    await waitFor(() => h.leakedProcesses().length === 1, 5_000);
    expect(status(id)).toBe('running');
    expect(h.run(['exec', id, 'true']).status).toBe(0);
    expectRecoverable(id);
  });

  it('start on a container whose init died returns an error instead of blocking', () => {
    const id = h.id('dead');
    expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    const pid = JSON.parse(h.run(['state', id]).stdout).pid;
    process.kill(pid, 'SIGKILL'); // the init this test created
    const r = h.run(['start', id], { timeout: 10_000 });
    expect(r).toMatchObject({ status: 1, stderr: expect.stringMatching(/stopped/) });
    expect(h.run(['delete', id]).status).toBe(0);
  });

  it('survives a corrupt or missing state.json: clear errors, and delete --force still finds the waiting init', () => {
    for (const damage of ['corrupt', 'missing'] as const) {
      const id = h.id(damage);
      expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
      const file = join(h.root, id, 'state.json');
      if (damage === 'corrupt') writeFileSync(file, readFileSync(file, 'utf8').slice(0, 20));
      else rmSync(file);
      for (const cmd of [['state', id], ['start', id], ['kill', id], ['delete', id]]) {
        const r = h.run(cmd, { timeout: 10_000 });
        expect(r.status, cmd.join(' ')).toBe(1);
        expect(r.stderr).toMatch(/^ocirun: container "[^"]+"(: state file .* is corrupt| has no state file)/);
      }
      expect(h.leakedProcesses()).toHaveLength(1);
      expect(h.run(['delete', '--force', id])).toMatchObject({ status: 0, stderr: '' });
      expect(h.leakedProcesses()).toEqual([]);
    }
  });

  it('lists other containers when one state dir was removed by hand', async () => {
    const a = h.id('gone');
    const b = h.id('kept');
    expect(h.run(['run', '--detach', '--bundle', bundle, a]).status).toBe(0);
    expect(h.run(['create', '--bundle', bundle, b]).status).toBe(0);
    const pid = JSON.parse(h.run(['state', a]).stdout).pid;
    rmSync(join(h.root, a), { recursive: true });
    expect(h.run(['list', '-q']).stdout).toBe(`${b}\n`);
    expect(h.run(['state', a]).stderr).toMatch(/does not exist/);
    process.kill(pid, 'SIGKILL'); // its state is gone; this test started it
    // So is the record of its cgroup: the (default) directories go once the init has.
    await waitFor(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1][0] === 'Z');
    removeDefaultCgroupIfEmpty(a);
  });
});
