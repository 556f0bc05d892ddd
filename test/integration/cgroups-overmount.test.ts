// cgroups seen through another mount: a private mount namespace with a fresh
// cgroup2 mounted over this host's hybrid /sys/fs/cgroup (a privileged CI
// container). Over-mounted entries stay listed in mountinfo; the runtime must
// use the mount that is visible. The same scenario runs in the v2 VM
// (test/vm/overmount.v2.ts).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { isRoot, OCIRUN } from './harness.js';
import { cgroupOvermountScenario, COVER_WITH_CGROUP2, expectOvermountHandled, harnessWithRunc, inPrivateMountNs, type RuntimeName } from '../support/private-ns.js';
import { ENGINE_DIR, stopDaemons } from '../support/engine.js';

describe.runIf(isRoot)('a fresh cgroup2 over /sys/fs/cgroup', () => {
  const { h: harness, runc } = harnessWithRunc({ cgroups: true });
  it.each(['ocirun', 'runc'] as RuntimeName[])('%s: create, exec, pause, events, kill --all and delete', (rt) => {
    const h = harness();
    const b = h.bundle((s) => {
      s.process!.args = ['sh', '-c', 'sleep 100 & sleep 100'];
    });
    expectOvermountHandled(cgroupOvermountScenario(rt, rt === 'ocirun' ? h.root : runc.dir, b, h.id('over')));
  });

  it('the engine daemon sees the cover mounted after it started: its next call uses the cgroup2 on top', () => {
    const h = harness();
    const id = h.id('remount');
    const b = h.bundle((s) => { s.process!.args = ['sleep', '100']; });
    const OC = `${OCIRUN} --root ${h.root}`;
    const pidOf = `cat ${join(h.root, ENGINE_DIR)}/*.sock.pid`;
    try {
      const r = inPrivateMountNs(`
${OC} list -q
echo daemon_before=$(${pidOf})
${COVER_WITH_CGROUP2}
${OC} run -d --bundle '${b}' '${id}' </dev/null >/dev/null
pid=$(${OC} state '${id}' | tr -d ' \\n' | grep -o '"pid":[0-9]*' | cut -d: -f2)
cg=$(grep '^0::' /proc/$pid/cgroup | cut -d: -f3)
echo in_cgroup=$(test -n "$cg" && test "$cg" != / && grep -qx "$pid" "/sys/fs/cgroup$cg/cgroup.procs" && echo yes || echo no)
${OC} delete --force '${id}'
echo cgroup_left=$(test -e "/sys/fs/cgroup$cg" && echo yes || echo no)
echo daemon_after=$(${pidOf})
kill -KILL $(${pidOf})
`);
      expect(r.stderr).toBe('');
      const { daemon_before: before, daemon_after: after, ...seen } = r.values;
      expect(seen).toEqual({ in_cgroup: 'yes', cgroup_left: 'no' });
      // One daemon, started before the mount, served every call.
      expect(Number(before)).toBeGreaterThan(0);
      expect(after).toBe(before);
    } finally {
      stopDaemons(h.root);
    }
  });
});
