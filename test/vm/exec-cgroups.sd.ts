// exec under the systemd cgroup driver (in the systemd VM only, like
// cgroups-systemd.sd.ts): the exec'd process joins the init's scope, as
// test/support/exec-cgroups.ts checks on the host and on plain v2.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { Harness, isRoot, RUNC } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { EXEC_CGROUP_CASES, expectExecInInitCgroups } from '../support/exec-cgroups.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified' && existsSync('/run/systemd/system');

describe.runIf(isRoot && inVm && !!RUNC)('exec joins the init\'s scope (systemd driver, systemd VM)', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  it.each(EXEC_CGROUP_CASES)('%s (user and cgroup namespaces: %s)', (rt, namespaces) => {
    expectExecInInitCgroups(h, rt, namespaces, { systemd: true });
  });
});
