// Hundreds of run cycles through the CLI: afterwards the host has the same
// mounts, state dirs, zombies and network namespaces as before (root only).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Harness, isRoot } from './harness.js';
import { Runtime } from '../../src/runtime.js';

const CYCLES = Number(process.env.OCIRUN_LEAK_CYCLES ?? 200);
const API_CYCLES = Number(process.env.OCIRUN_LEAK_API_CYCLES ?? 1000);

const openFds = () => readdirSync('/proc/self/fd').length;

/** What a leak would change: every count the issue names. */
export function hostCounts() {
  const netns = new Set<string>();
  let zombies = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      netns.add(readlinkSync(`/proc/${name}/ns/net`));
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Zombies pid 1 has not collected yet are its business (it reaps every few seconds here).
      if (state === 'Z' && ppid !== '1') zombies++;
    } catch {
      // exited while we looked
    }
  }
  return { netns: netns.size, zombies };
}

describe.runIf(isRoot)('leaks', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterAll(() => h?.destroy());

  it(`${CYCLES} CLI run cycles leave nothing behind`, () => {
    const bundle = h.bundle((s) => { s.process!.args = ['true']; });
    const before = hostCounts();
    for (let i = 0; i < CYCLES; i++) {
      const r = h.run(['run', '--bundle', bundle, h.id('leak')]);
      expect(r, `cycle ${i}`).toMatchObject({ status: 0, stderr: '' });
    }
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    const after = hostCounts();
    expect(after.zombies).toBeLessThanOrEqual(before.zombies);
    // Other software may create network namespaces meanwhile, but never 200 of them.
    expect(after.netns - before.netns).toBeLessThan(CYCLES / 10);
  }, 600_000);

  it(`${API_CYCLES} run cycles from one process through the library leave nothing behind, not even an fd`, async () => {
    const bundle = h.bundle((s) => { s.process!.args = ['true']; });
    const rt = new Runtime({ root: h.root });
    // One warm-up: the addon's memfd copy and its exit-watcher thread stay for the process's life.
    expect(await rt.run(h.id('api'), bundle)).toMatchObject({ exitCode: 0 });
    const before = { ...hostCounts(), fds: openFds() };
    for (let i = 0; i < API_CYCLES; i++) {
      const status = await rt.run(h.id('api'), bundle);
      expect(status, `cycle ${i}`).toMatchObject({ exitCode: 0, known: true });
    }
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    const after = { ...hostCounts(), fds: openFds() };
    expect(after.fds).toBe(before.fds);
    expect(after.zombies).toBeLessThanOrEqual(before.zombies);
    expect(after.netns - before.netns).toBeLessThan(API_CYCLES / 100);
  }, 900_000);
});
