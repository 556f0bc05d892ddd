// exec and the container's cgroups on pure cgroup v2 (in the VM only, like
// cgroups.v2.ts): test/support/exec-cgroups.ts. With the guest's nsdelegate, a
// joined cgroup namespace keeps ocirun on the cgroup.procs write; without one
// the process is cloned into the cgroup.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, isRoot } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { EXEC_CGROUP_CASES, expectExecInInitCgroups } from '../support/exec-cgroups.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified';

describe.runIf(isRoot && inVm)('exec joins the init\'s cgroup (pure v2, in the VM)', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    expect(h.leakedCgroups()).toEqual([]);
  });
  afterAll(() => h?.destroy());

  it.each(EXEC_CGROUP_CASES)('%s (user and cgroup namespaces: %s)', (rt, namespaces) => {
    expectExecInInitCgroups(h, rt, namespaces);
  });
});
