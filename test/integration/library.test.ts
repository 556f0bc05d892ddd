// The Runtime API as a Node agent uses it: real containers, no CLI per step,
// exit statuses that survive any timing, and the CLI seeing the same state
// (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { containerProcesses, Harness, isRoot, waitFor } from './harness.js';
import { Runtime, type ExitEvent } from '../../src/runtime.js';
import { ConfigError, OciError, SystemError } from '../../src/errors.js';
import type { Spec } from '../../src/oci/types.js';
import { defaultSpec } from '../../src/config/default-spec.js';

const sh = (script: string) => (spec: Spec) => { spec.process!.args = ['sh', '-c', script]; };
const openFds = (): number => readdirSync('/proc/self/fd').length;

/** Children of this process that exited and were never reaped. */
function zombieChildren(): string[] {
  return readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return f[0] === 'Z' && Number(f[1]) === process.pid;
    } catch {
      return false;
    }
  });
}

describe.runIf(isRoot)('Runtime API', () => {
  let h: Harness;
  let rt: Runtime;
  let stdio: [number, number, number];
  let outFile: string;
  beforeAll(async () => {
    h = await Harness.create();
    rt = new Runtime({ root: h.root });
    outFile = join(h.work, 'api-out');
    const out = openSync(outFile, 'w+');
    stdio = [openSync('/dev/null', 'r'), out, out];
  });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    expect(zombieChildren()).toEqual([]);
  });
  afterAll(() => {
    for (const fd of new Set(stdio ?? [])) closeSync(fd);
    h?.destroy();
  });

  it('run resolves with the exit code, or the signal that killed the init, and deletes the container', async () => {
    const a = h.id();
    expect(await rt.run(a, h.bundle(sh('exit 7')), { stdio })).toEqual({ exitCode: 7, signal: null, known: true });
    expect(existsSync(join(h.root, a))).toBe(false);
    const b = h.id();
    const running = rt.run(b, h.bundle(sh('sleep 30')), { stdio });
    await waitFor(() => h.run(['state', b]).stdout.includes('"running"'));
    await rt.kill(b, 'KILL');
    expect(await running).toEqual({ exitCode: null, signal: 'SIGKILL', known: true });
    // keep: the stopped container stays until deleted.
    const c = h.id();
    await rt.run(c, h.bundle(sh('exit 0')), { stdio, keep: true });
    expect(await rt.state(c)).toMatchObject({ id: c, status: 'stopped', pid: 0 });
    await rt.delete(c);
  });

  it('runs 20 containers in parallel, each resolving with its own status', async () => {
    const ids = Array.from({ length: 20 }, () => h.id('par'));
    const results = await Promise.all(ids.map((id, i) => rt.run(id, h.bundle(sh(`sleep 0.$((RANDOM % 3)); exit ${i + 1}`)), { stdio })));
    expect(results.map((r) => r.exitCode)).toEqual(ids.map((_, i) => i + 1));
    expect(await rt.list()).toEqual([]);
  });

  it('create, start, state, kill, wait and delete step by step', async () => {
    const id = h.id();
    const out = join(h.work, `${id}.out`);
    const fd = openSync(out, 'w+');
    const created = await rt.create(id, h.bundle(sh('trap "exit 5" TERM; echo ready; while :; do sleep 0.05; done')), { stdio: [stdio[0], fd, fd] });
    closeSync(fd);
    expect(created).toMatchObject({ id, status: 'created', rootfs: h.rootfs });
    expect((await rt.list()).map((s) => s.id)).toEqual([id]);
    await rt.start(id);
    expect(await rt.state(id)).toMatchObject({ status: 'running', pid: created.pid });
    // pid 1 ignores TERM until the trap is set.
    await waitFor(() => readFileSync(out, 'utf8').includes('ready'));
    await rt.kill(id, 'TERM');
    expect(await rt.wait(id)).toEqual({ exitCode: 5, signal: null, known: true });
    // A second wait gets the same answer.
    expect(await rt.wait(id)).toEqual({ exitCode: 5, signal: null, known: true });
    await rt.delete(id);
    await expect(rt.state(id)).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_FOUND' });
  });

  it('exec runs a process inside the container and resolves with its status; abort kills it', async () => {
    const id = h.id();
    await rt.create(id, h.bundle((s) => { sh('sleep 30')(s); s.hostname = 'exec-box'; }), { stdio });
    await rt.start(id);
    const out = join(h.work, `${id}.exec`);
    const fd = openSync(out, 'w+');
    const status = await rt.exec(id, { args: ['sh', '-c', 'echo $(hostname) $FOO; exit 6'], env: ['FOO=bar'], stdio: [stdio[0], fd, fd] });
    closeSync(fd);
    expect(status).toEqual({ exitCode: 6, signal: null, known: true });
    expect(readFileSync(out, 'utf8')).toBe('exec-box bar\n');

    const ac = new AbortController();
    const sleeping = rt.exec(id, { args: ['sleep', '30'], stdio, signal: ac.signal });
    await waitFor(() => containerProcesses(h.work).size === 2);
    ac.abort();
    await expect(sleeping).rejects.toMatchObject({ name: 'AbortError' });
    // Only the container's init is left.
    expect(containerProcesses(h.work).size).toBe(1);
    await expect(rt.exec('never-was', { args: ['true'] })).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_FOUND' });
    await rt.delete(id, { force: true });
  });

  it('keeps the exit status of a container that exits before anyone waits', async () => {
    const id = h.id();
    await rt.create(id, h.bundle(sh('exit 3')), { stdio });
    await rt.start(id);
    await waitFor(() => h.run(['state', id]).stdout.includes('"stopped"'));
    // Collected already (no zombie), and still remembered.
    expect(zombieChildren()).toEqual([]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await rt.wait(id)).toEqual({ exitCode: 3, signal: null, known: true });
    await rt.delete(id);
  });

  it('an aborted wait rejects and leaves the container running; an aborted run kills and deletes it', async () => {
    const id = h.id();
    await rt.create(id, h.bundle(sh('sleep 30')), { stdio });
    await rt.start(id);
    const ac = new AbortController();
    const waiting = rt.wait(id, { signal: ac.signal });
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect((await rt.state(id)).status).toBe('running');
    await rt.delete(id, { force: true });

    const run = h.id();
    const ac2 = new AbortController();
    const running = rt.run(run, h.bundle(sh('sleep 30')), { stdio, signal: ac2.signal });
    await waitFor(() => h.run(['state', run]).stdout.includes('"running"'));
    ac2.abort(new Error('enough'));
    await expect(running).rejects.toThrow('enough');
    expect(existsSync(join(h.root, run))).toBe(false);
  });

  it('events yields the exits of its containers, in the order they happen, until aborted', async () => {
    const ac = new AbortController();
    const events = rt.events({ signal: ac.signal });
    const ids = [h.id('ev'), h.id('ev'), h.id('ev')];
    for (const [i, id] of ids.entries()) {
      await rt.create(id, h.bundle(sh(`sleep 0.${i * 3}; exit ${10 + i}`)), { stdio });
    }
    await Promise.all(ids.map((id) => rt.start(id)));
    const seen: ExitEvent[] = [];
    for await (const ev of events) {
      seen.push(ev);
      if (seen.length === 3) break;
    }
    expect(seen.map((e) => [e.id, e.status.exitCode, e.status.known])).toEqual(ids.map((id, i) => [id, 10 + i, true]));
    expect(seen.every((e) => e.type === 'exit' && e.pid > 0 && e.time instanceof Date)).toBe(true);
    for (const id of ids) await rt.delete(id);

    // After abort the pending next() rejects; iteration is over.
    const it2 = rt.events({ signal: ac.signal });
    const pending = it2.next();
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('shares state with the CLI: API-created containers are driven by the CLI', async () => {
    const id = h.id();
    await rt.create(id, h.bundle(sh('exit 4')), { stdio });
    expect(JSON.parse(h.run(['state', id]).stdout)).toMatchObject({ id, status: 'created' });
    expect(h.run(['list', '-q']).stdout).toBe(`${id}\n`);
    expect(h.run(['start', id]).status).toBe(0);
    // Ours to reap, whoever started it.
    expect(await rt.wait(id)).toEqual({ exitCode: 4, signal: null, known: true });
    expect(h.run(['delete', id]).status).toBe(0);
    await expect(rt.state(id)).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_FOUND' });
    // Deleted behind our back after it exited: what we saw stays true.
    expect(await rt.wait(id)).toEqual({ exitCode: 4, signal: null, known: true });
    expect(await rt.list()).toEqual([]);
    await expect(rt.wait(id)).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_FOUND' });
  });

  it('shares state with the CLI: CLI-created containers are driven by the API, with unknown status', async () => {
    const id = h.id();
    expect(h.run(['create', '--bundle', h.bundle(sh('sleep 0.3; exit 9')), id]).status).toBe(0);
    expect(await rt.state(id)).toMatchObject({ id, status: 'created' });
    await rt.start(id);
    expect(JSON.parse(h.run(['state', id]).stdout).status).toBe('running');
    // The CLI process that created it is gone; only its parent could collect the code.
    expect(await rt.wait(id)).toEqual({ exitCode: null, signal: null, known: false });
    await rt.delete(id);
    expect(h.run(['state', id]).stderr).toMatch(/does not exist/);

    const other = h.id();
    expect(h.run(['create', '--bundle', h.bundle(), other]).status).toBe(0);
    await rt.kill(other, 'KILL');
    expect((await rt.wait(other)).known).toBe(false);
    await rt.delete(other);
  });

  it('an aborted wait on a CLI container does not keep the agent process alive', () => {
    const id = h.id();
    expect(h.run(['run', '--detach', '--bundle', h.bundle(sh('sleep 30')), id]).status).toBe(0);
    const runtime = fileURLToPath(new URL('../../dist/runtime.js', import.meta.url));
    const script = join(h.work, 'agent.mjs');
    writeFileSync(script, `
      import { Runtime } from ${JSON.stringify(runtime)};
      const rt = new Runtime({ root: ${JSON.stringify(h.root)} });
      await rt.wait(${JSON.stringify(id)}, { signal: AbortSignal.timeout(100) }).catch((e) => console.log(e.name));
    `);
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({ status: 0, signal: null, stdout: 'TimeoutError\n' });
    expect(h.run(['delete', '--force', id]).status).toBe(0);
  });

  it('reports errors as classes with codes, and system errors with errno, syscall and path', async () => {
    const id = h.id();
    await rt.create(id, h.bundle(sh('sleep 30')), { stdio });
    await expect(rt.create(id, h.bundle(), { stdio })).rejects.toSatisfy((e) => e instanceof OciError && e.code === 'ERR_CONTAINER_EXISTS');
    await rt.start(id);
    await expect(rt.start(id)).rejects.toMatchObject({ code: 'ERR_NOT_CREATED', message: 'cannot start an already running container' });
    await expect(rt.delete(id)).rejects.toMatchObject({ code: 'ERR_NOT_STOPPED' });
    await rt.delete(id, { force: true });
    await expect(rt.kill('never-was')).rejects.toMatchObject({ code: 'ERR_CONTAINER_NOT_FOUND' });
    await expect(rt.create('a/b', h.bundle())).rejects.toMatchObject({ code: 'ERR_INVALID_ID' });

    const bad = rt.create(h.id(), h.bundle(), { stdio: [0, 1, 987] });
    await expect(bad).rejects.toBeInstanceOf(SystemError);
    await expect(bad).rejects.toMatchObject({ code: 'EBADF', errno: -9, syscall: 'fcntl' });

    const noProgram = rt.create(h.id(), h.bundle((s) => { s.process!.args = ['/no/such/program']; }), { stdio });
    await expect(noProgram).rejects.toBeInstanceOf(SystemError);
    await expect(noProgram).rejects.toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'exec', path: '/no/such/program' });
    expect(h.stateDirs()).toEqual([]);
  });

  it('takes the config as a typed object instead of config.json, validated the same way', async () => {
    const spec: Spec = defaultSpec();
    spec.root = { path: h.rootfs, readonly: true };
    spec.process!.args = ['sh', '-c', 'echo from-config-object'];
    writeFileSync(outFile, '');
    const bundle = h.bundle(sh('exit 1'));
    expect(await rt.run(h.id(), bundle, { stdio, config: spec })).toMatchObject({ exitCode: 0 });
    expect(readFileSync(outFile, 'utf8')).toContain('from-config-object');

    spec.linux!.namespaces!.push({ type: 'bogus' as never });
    const err = await rt.create(h.id(), bundle, { config: spec }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^linux\.namespaces\[\d+\]\.type: unknown namespace "bogus"/);
  });

  it('reports where create spent its time when asked', async () => {
    const id = h.id();
    const t0 = process.hrtime.bigint();
    const c = await rt.create(id, h.bundle(), { stdio, timing: true });
    const phases = c.timings!.map((m) => m.phase);
    for (const p of ['config.loaded', 'helper.main', 'namespaces.joined', 'init.cloned', 'mounts.done', 'pivoted', 'ready.received', 'create.done']) {
      expect(phases).toContain(p);
    }
    // One clock for this process, the addon and the helper: all inside our call, in causal order.
    expect(c.timings![0].ns).toBeGreaterThanOrEqual(t0);
    expect(phases.indexOf('helper.main')).toBeLessThan(phases.indexOf('mounts.done'));
    expect(phases.indexOf('mounts.done')).toBeLessThan(phases.indexOf('pivoted'));
    expect(phases.indexOf('pivoted')).toBeLessThan(phases.indexOf('ready.received'));
    expect((await rt.create(h.id(), h.bundle(), { stdio }).then(async (x) => { await rt.delete(x.id); return x; })).timings).toBeUndefined();
    await rt.delete(id);
  });

  it('leaves no descriptor behind in the agent after 50 cycles', async () => {
    const bundle = h.bundle(sh('true'));
    await rt.run(h.id(), bundle, { stdio }); // the exit watcher's epoll and eventfd are made once
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const id = h.id('fd');
      await rt.create(id, bundle, { stdio });
      await rt.start(id);
      expect((await rt.wait(id)).exitCode).toBe(0);
      await rt.delete(id);
    }
    expect(openFds()).toBe(before);
  });
});
