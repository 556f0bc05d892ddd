// Names for the helper's compiled-filter cache (native/init/seccomp_cache.h).
// The key covers everything the BPF program depends on: the rules as planned,
// the helper binary (its libseccomp) and the kernel release (libseccomp probes
// it). The notify listener's state is per container and stays out.
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { release } from 'node:os';
import type { SeccompPlan } from '../native/plan-schema.js';

/**
 * Beside the state root rather than in it: every directory in the root is a
 * container to `list`, `delete` and the tests' leak checks.
 */
export function seccompCacheDir(root: string): string {
  return `${root}.seccomp-cache`;
}

export function seccompCacheKey(plan: SeccompPlan, helper: string, kernel = release()): string {
  const st = statSync(helper, { bigint: true });
  const rules = plan.rules.map((r) => ({ ...r, args: r.args.map((a) => ({ ...a, value: String(a.value), valueTwo: String(a.valueTwo) })) }));
  return createHash('sha256')
    .update(JSON.stringify({
      helper: [st.dev, st.ino, st.size, st.mtimeNs].map(String),
      kernel,
      defaultAction: plan.defaultAction,
      arches: plan.arches,
      flags: plan.flags,
      rules,
    }))
    .digest('hex');
}
