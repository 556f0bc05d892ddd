// Mutated configs through the real CLI for a bounded time: every run ends in
// exit 0 or a one-line error (never a stack trace), and nothing is left behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot } from './harness.js';
import { defaultSpec } from '../../src/config/default-spec.js';
import { mutate, rng } from '../support/mutate.js';

const SEED = Number(process.env.OCIRUN_FUZZ_SEED ?? Date.now() % 1e9);
const BUDGET_MS = Number(process.env.OCIRUN_FUZZ_MS ?? 15_000);

describe.runIf(isRoot)('CLI fuzz', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterAll(() => h?.destroy());

  it(`create/run of mutated configs never crash and never leak (seed ${SEED})`, () => {
    const rand = rng(SEED);
    const base = defaultSpec();
    base.root = { path: h.rootfs, readonly: true };
    base.process!.args = ['true'];
    const bundle = h.bundle();
    const end = Date.now() + BUDGET_MS;
    let ran = 0;
    for (let i = 0; Date.now() < end; i++) {
      const spec = mutate(base, rand);
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
      const id = h.id('fuzz');
      const r = h.run([i % 2 ? 'run' : 'create', '--bundle', bundle, id], { timeout: 20_000 });
      const where = `iteration ${i} (seed ${SEED}) config ${JSON.stringify(spec)}`;
      expect(r.signal, where).toBeNull();
      expect(r.stderr, where).not.toMatch(/\n\s+at /);
      if (r.status !== 0) {
        expect(r.status, where).toBe(1);
        // Warnings (unknown fields, skipped capabilities) may come first; the error is one line.
        const errors = r.stderr.split('\n').filter((l) => l && !/level=warning/.test(l));
        expect(errors, where).toHaveLength(1);
        expect(errors[0], where).toMatch(/^ocirun: /);
        expect(h.stateDirs(), where).toEqual([]);
      } else {
        ran++;
      }
      h.run(['delete', '--force', id]);
    }
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    expect(ran).toBeGreaterThan(0);
  }, BUDGET_MS + 60_000);
});
