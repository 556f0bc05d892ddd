// Random mutations of the default spec through the validator and planner: a
// config is either accepted or refused with located one-line problems; nothing
// ever throws anything else (no TypeError from a shape the code did not expect).
import { describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/config/default-spec.js';
import { validateSpec } from '../../src/config/validate.js';
import { buildInitPlan } from '../../src/lifecycle/init-plan.js';
import { encodePlan } from '../../src/native/plan-encode.js';
import { OciError } from '../../src/errors.js';
import { mutate, rng } from '../support/mutate.js';

const SEED = Number(process.env.OCIRUN_FUZZ_SEED ?? Date.now() % 1e9);
const BUDGET_MS = Number(process.env.OCIRUN_FUZZ_MS ?? 3000);

describe('config fuzz', () => {
  it(`never throws outside its error types (seed ${SEED})`, () => {
    const rand = rng(SEED);
    const base = defaultSpec();
    base.root = { path: '/tmp/rootfs', readonly: true };
    const end = Date.now() + BUDGET_MS;
    let accepted = 0;
    let refused = 0;
    for (let i = 0; Date.now() < end; i++) {
      const candidate = mutate(base, rand);
      let result;
      try {
        result = validateSpec(candidate);
      } catch (err) {
        throw new Error(`iteration ${i} (seed ${SEED}): validateSpec threw ${String(err)}\n${JSON.stringify(candidate)}`);
      }
      if (result.problems.length > 0) {
        refused++;
        for (const p of result.problems) {
          expect(typeof p.path).toBe('string');
          expect(p.message).not.toMatch(/\n/);
        }
        continue;
      }
      accepted++;
      try {
        // What validates must also plan and encode.
        encodePlan(buildInitPlan(result.spec, { bundle: '/b', rootfs: '/tmp/rootfs', stateDir: '/run/x', noPivot: false, debug: false }));
      } catch (err) {
        if (err instanceof OciError) continue;
        throw new Error(`iteration ${i} (seed ${SEED}): planning an accepted config threw ${String(err)}\n${JSON.stringify(candidate)}`);
      }
    }
    // Both outcomes were exercised, so the mutations are neither all harmless nor all fatal.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 30_000);
});
