// exec and the container's cgroups on this (hybrid) host: test/support/exec-cgroups.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, isRoot } from './harness.js';
import { EXEC_CGROUP_CASES, expectExecInInitCgroups } from '../support/exec-cgroups.js';

describe.runIf(isRoot)('exec joins every cgroup of the init', () => {
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
