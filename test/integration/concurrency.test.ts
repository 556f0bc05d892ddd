// Many CLI processes at once: distinct IDs all succeed, one ID is claimed
// exactly once, and racing commands on one container never corrupt its state
// or leave a process behind (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, OCIRUN, isRoot } from './harness.js';

interface Outcome { code: number | null; stderr: string }

let seq = 0;

/**
 * Runs the CLI without waiting. stderr goes to a file, not a pipe: a created
 * container inherits it and would keep a pipe open long after the CLI exits.
 */
function cli(h: Harness, args: string[]): Promise<Outcome> {
  const errFile = join(h.work, `.cli-err-${process.pid}-${++seq}`);
  const err = openSync(errFile, 'w+');
  return new Promise((resolve) => {
    const child = spawn(OCIRUN, ['--root', h.root, ...args], { stdio: ['ignore', 'ignore', err] });
    closeSync(err);
    child.on('exit', (code) => {
      const stderr = readFileSync(errFile, 'utf8');
      rmSync(errFile);
      resolve({ code, stderr });
    });
  });
}

describe.runIf(isRoot)('concurrency', () => {
  let h: Harness;
  let bundle: string;
  beforeAll(async () => {
    h = await Harness.create();
    bundle = h.bundle((s) => { s.process!.args = ['sleep', '60']; });
  });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  it('50 creates with distinct IDs in parallel all succeed', async () => {
    const ids = Array.from({ length: 50 }, () => h.id('par'));
    const outcomes = await Promise.all(ids.map((id) => cli(h, ['create', '--bundle', bundle, id])));
    expect(outcomes.filter((o) => o.code !== 0)).toEqual([]);
    const states = JSON.parse(h.run(['list', '--format', 'json']).stdout) as Array<{ id: string; status: string }>;
    expect(states.map((s) => s.id).sort()).toEqual([...ids].sort());
    expect(new Set(states.map((s) => s.status))).toEqual(new Set(['created']));
  }, 120_000);

  it('10 creates of the same ID: exactly one wins, the rest fail cleanly', async () => {
    const id = h.id('same');
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => cli(h, ['create', '--bundle', bundle, id])));
    expect(outcomes.filter((o) => o.code === 0)).toHaveLength(1);
    for (const o of outcomes.filter((x) => x.code !== 0)) {
      expect(o).toEqual({ code: 1, stderr: `ocirun: container "${id}" already exists\n` });
    }
    expect(JSON.parse(h.run(['state', id]).stdout).status).toBe('created');
    // No temp directory of a losing claim survives.
    expect(h.stateDirs()).toEqual([id]);
  }, 60_000);

  it('kill, state, start, pause, resume and delete racing on one container leave a consistent end state', async () => {
    for (let round = 0; round < 5; round++) {
      const id = h.id('race');
      expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
      const pid = JSON.parse(h.run(['state', id]).stdout).pid;
      const ops = [
        cli(h, ['start', id]), cli(h, ['state', id]), cli(h, ['pause', id]), cli(h, ['kill', id, 'KILL']),
        cli(h, ['resume', id]), cli(h, ['delete', '--force', id]), cli(h, ['state', id]), cli(h, ['list']),
      ];
      const outcomes = await Promise.all(ops);
      // Every refusal is a clean one-line error, never a crash.
      for (const o of outcomes) {
        expect([0, 1]).toContain(o.code);
        if (o.code === 1) expect(o.stderr).toMatch(/^ocirun: [^\n]+\n$/);
      }
      // delete --force ran: whatever the interleaving, the container is gone entirely.
      expect(existsSync(join(h.root, id))).toBe(false);
      const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'latin1') : '';
      expect(stat === '' || / Z /.test(stat.slice(stat.lastIndexOf(')')))).toBe(true);
    }
  }, 120_000);
});
