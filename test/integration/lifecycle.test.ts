// The lifecycle as a user drives it through the CLI: create, start, state, kill,
// delete, run, list, with runc's refusals, on real containers (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, initHelperProcesses, isRoot, waitFor } from './harness.js';

const sh = (script: string) => (spec: { process?: { args?: string[] } }) => { spec.process!.args = ['sh', '-c', script]; };

describe.runIf(isRoot)('lifecycle', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    const left = h.cleanup();
    expect(left).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  it('create leaves a waiting helper, start runs the process, state follows', async () => {
    const id = h.id();
    const bundle = h.bundle(sh('sleep 30'));
    const pidFile = join(h.work, `${id}.pid`);
    expect(h.run(['create', '--bundle', bundle, '--pid-file', pidFile, id])).toMatchObject({ status: 0, stderr: '' });
    const created = JSON.parse(h.run(['state', id]).stdout);
    expect(created).toMatchObject({ ociVersion: expect.any(String), id, status: 'created', bundle, rootfs: h.rootfs });
    expect(created.pid).toBeGreaterThan(0);
    expect(readFileSync(pidFile, 'utf8')).toBe(String(created.pid));
    // The waiting container is the small helper, not a Node process.
    expect(initHelperProcesses()).toContain(String(created.pid));
    const status = readFileSync(`/proc/${created.pid}/status`, 'utf8');
    expect(status).toMatch(/^Name:\s+ocirun-init/m);

    expect(h.run(['start', id]).status).toBe(0);
    const running = JSON.parse(h.run(['state', id]).stdout);
    expect(running).toMatchObject({ status: 'running', pid: created.pid });
    expect(readFileSync(`/proc/${created.pid}/cmdline`, 'utf8').split('\0')[0]).toBe('sleep');

    // start again: refused, no effect.
    const again = h.run(['start', id]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/cannot start an already running container/);
    expect(JSON.parse(h.run(['state', id]).stdout).status).toBe('running');

    // delete without --force: refused, still running.
    const del = h.run(['delete', id]);
    expect(del.status).toBe(1);
    expect(del.stderr).toMatch(/not stopped: running/);
    expect(JSON.parse(h.run(['state', id]).stdout).status).toBe('running');

    expect(h.run(['kill', id, 'KILL']).status).toBe(0);
    await waitFor(() => JSON.parse(h.run(['state', id]).stdout).status === 'stopped');
    expect(JSON.parse(h.run(['state', id]).stdout)).toMatchObject({ status: 'stopped', pid: 0 });
    expect(h.run(['start', id]).stderr).toMatch(/cannot start a container that has stopped/);
    expect(h.run(['kill', id]).status).toBe(1);
    expect(h.run(['delete', id]).status).toBe(0);
    expect(h.run(['state', id]).stderr).toMatch(/does not exist/);
    expect(existsSync(join(h.root, id))).toBe(false);
  });

  it('run returns the exit code and passes stdio through', () => {
    const r = h.run(['run', '--bundle', h.bundle(sh('read line; echo "got $line"; echo err >&2; exit 7')), h.id()], { input: 'hello\n' });
    expect(r).toMatchObject({ status: 7, stdout: 'got hello\n', stderr: 'err\n' });
  });

  it('run reports 128+N when the container is killed by signal N', async () => {
    const id = h.id();
    const child = h.spawn(['run', '--bundle', h.bundle(sh('sleep 30')), id]);
    await waitFor(() => h.run(['state', id]).stdout.includes('"running"'));
    expect(h.run(['kill', id, '9']).status).toBe(0);
    const code = await new Promise((res) => child.on('exit', res));
    expect(code).toBe(137);
  });

  it('run forwards signals it receives to the container', async () => {
    const id = h.id();
    const child = h.spawn(['run', '--bundle', h.bundle(sh('trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done')), id]);
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    await waitFor(() => out.includes('ready'));
    child.kill('SIGTERM');
    expect(await new Promise((res) => child.on('exit', res))).toBe(42);
  });

  it('kill accepts names with and without SIG, and numbers', async () => {
    for (const sig of ['TERM', 'SIGTERM', '15', 'sigterm']) {
      const id = h.id();
      expect(h.run(['run', '--detach', '--bundle', h.bundle(sh('trap "exit 3" TERM; while :; do sleep 0.05; done')), id]).status).toBe(0);
      await new Promise((r) => setTimeout(r, 100));
      expect(h.run(['kill', id, sig])).toMatchObject({ status: 0 });
      await waitFor(() => h.run(['state', id]).stdout.includes('"stopped"'));
      expect(h.run(['delete', id]).status).toBe(0);
    }
    const id = h.id();
    h.run(['create', '--bundle', h.bundle(), id]);
    expect(h.run(['kill', id, 'SIGNOPE'])).toMatchObject({ status: 1, stderr: expect.stringMatching(/unknown signal "SIGNOPE"/) });
  });

  it('run --keep keeps the stopped container; delete removes it', () => {
    const id = h.id();
    expect(h.run(['run', '--keep', '--bundle', h.bundle(sh('exit 0')), id]).status).toBe(0);
    expect(JSON.parse(h.run(['state', id]).stdout).status).toBe('stopped');
    expect(h.run(['delete', id]).status).toBe(0);
  });

  it('delete of a created container kills it, like runc', () => {
    const id = h.id();
    expect(h.run(['create', '--bundle', h.bundle(), id]).status).toBe(0);
    const pid = JSON.parse(h.run(['state', id]).stdout).pid;
    expect(h.run(['delete', id]).status).toBe(0);
    expect(existsSync(`/proc/${pid}/stat`) && !readFileSync(`/proc/${pid}/stat`, 'latin1').includes(') Z')).toBe(false);
  });

  it('refuses a second create with the same ID and leaves the first alone', () => {
    const id = h.id();
    expect(h.run(['create', '--bundle', h.bundle(), id]).status).toBe(0);
    const before = h.run(['state', id]).stdout;
    const dup = h.run(['create', '--bundle', h.bundle(), id]);
    expect(dup.status).toBe(1);
    expect(dup.stderr.trim()).toBe(`ocirun: container "${id}" already exists`);
    expect(h.run(['state', id]).stdout).toBe(before);
  });

  it('lists containers as a table, JSON and IDs', () => {
    const a = h.id('list');
    const b = h.id('list');
    h.run(['create', '--bundle', h.bundle(), a]);
    h.run(['create', '--bundle', h.bundle(), b]);
    const table = h.run(['list']).stdout.split('\n');
    expect(table[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    expect(table.some((l) => l.startsWith(a) && l.includes('created'))).toBe(true);
    const json = JSON.parse(h.run(['list', '--format', 'json']).stdout);
    expect(json.map((s: { id: string }) => s.id)).toEqual([a, b].sort());
    expect(h.run(['list', '-q']).stdout).toBe([a, b].sort().join('\n') + '\n');
  });

  it('delete --force of a container that does not exist succeeds quietly; without it fails', () => {
    expect(h.run(['delete', '--force', 'never-was'])).toMatchObject({ status: 0, stderr: '' });
    expect(h.run(['delete', 'never-was'])).toMatchObject({ status: 1, stderr: 'ocirun: container "never-was" does not exist\n' });
  });

  it('the leak check itself sees a container that was not deleted', () => {
    const id = h.id();
    expect(h.run(['run', '--detach', '--bundle', h.bundle(sh('sleep 30')), id]).status).toBe(0);
    expect(h.leakedProcesses()).toHaveLength(1);
    expect(h.run(['delete', '--force', id]).status).toBe(0);
    expect(h.leakedProcesses()).toEqual([]);
  });
});
