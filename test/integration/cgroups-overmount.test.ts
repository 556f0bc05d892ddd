// cgroups seen through another mount: a private mount namespace with a fresh
// cgroup2 mounted over this host's hybrid /sys/fs/cgroup (a privileged CI
// container). Over-mounted entries stay listed in mountinfo; the runtime must
// use the mount that is visible. The same scenario runs in the v2 VM
// (test/vm/overmount.v2.ts).
import { describe, it } from 'vitest';
import { isRoot } from './harness.js';
import { cgroupOvermountScenario, expectOvermountHandled, harnessWithRunc, type RuntimeName } from '../support/private-ns.js';

describe.runIf(isRoot)('a fresh cgroup2 over /sys/fs/cgroup', () => {
  const { h: harness, runc } = harnessWithRunc({ cgroups: true });
  it.each(['ocirun', 'runc'] as RuntimeName[])('%s: create, exec, pause, events, kill --all and delete', (rt) => {
    const h = harness();
    const b = h.bundle((s) => {
      s.process!.args = ['sh', '-c', 'sleep 100 & sleep 100'];
    });
    expectOvermountHandled(cgroupOvermountScenario(rt, rt === 'ocirun' ? h.root : runc.dir, b, h.id('over')));
  });
});
