// Inside the v2 VM (test/vm/cgroups-v2.vm.test.ts): the over-mount scenario of
// test/integration/cgroups-overmount.test.ts, where the hidden mount below is
// cgroup2 too. One container per runtime: the VM is ~20x slower.
import { describe, it } from 'vitest';
import { isRoot } from '../integration/harness.js';
import { hostLayout } from '../../src/cgroups/layout.js';
import { cgroupOvermountScenario, expectOvermountHandled, harnessWithRunc, type RuntimeName } from '../support/private-ns.js';

const inVm = !!process.env.OCIRUN_TEST_VM && hostLayout().mode === 'unified';

describe.runIf(isRoot && inVm)('a second cgroup2 over /sys/fs/cgroup (pure v2, in the VM)', () => {
  const { h: harness, runc } = harnessWithRunc();

  it.each(['ocirun', 'runc'] as RuntimeName[])('%s: create, exec, pause, events, kill --all and delete', (rt) => {
    const h = harness();
    const b = h.bundle((s) => {
      s.process!.args = ['sh', '-c', 'sleep 100 & sleep 100'];
    });
    expectOvermountHandled(cgroupOvermountScenario(rt, rt === 'ocirun' ? h.root : runc.dir, b, h.id('over')));
  });
});
