// The exec'd process is in every cgroup of the container's init: v1
// controllers, a hybrid host's cgroup2, pure v2 (test/vm/exec-cgroups.v2.ts),
// with and without the container's user and cgroup namespaces, which decide
// how ocirun moves it there (src/cgroups/join.ts), and under the systemd
// driver (test/vm/exec-cgroups.sd.ts: the init's scope). Against runc alike.
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from '../integration/harness.js';
import type { Spec } from '../../src/oci/types.js';

export type Runtime = 'ocirun' | 'runc';

export const EXEC_CGROUP_CASES: Array<[Runtime, boolean]> = [['ocirun', false], ['ocirun', true], ['runc', false], ['runc', true]];

const userAndCgroupNs = (s: Spec): void => {
  s.linux!.namespaces!.push({ type: 'user' }, { type: 'cgroup' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

/**
 * The four cases as one describe block with its own Harness. Under the systemd
 * driver the cgroups are systemd's scopes, outside the harness's cgroup tree,
 * so its cgroup leak check does not apply (the case itself checks the scope).
 */
export function describeExecCgroups(title: string, enabled: boolean, opts: { systemd?: boolean } = {}): void {
  describe.runIf(enabled)(title, () => {
    let h: Harness;
    beforeAll(async () => { h = await Harness.create(); });
    afterEach(() => {
      expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
      if (!opts.systemd) expect(h.leakedCgroups()).toEqual([]);
    });
    afterAll(() => h?.destroy());

    it.each(EXEC_CGROUP_CASES)('%s (user and cgroup namespaces: %s)', (rt, namespaces) => {
      expectExecInInitCgroups(h, rt, namespaces, opts);
    });
  });
}

export function expectExecInInitCgroups(h: Harness, rt: Runtime, namespaces: boolean, opts: { systemd?: boolean } = {}): void {
  const id = h.id(`xcg-${rt}`);
  const cgroup = opts.systemd ? `/system.slice/ocirun-xcg-${id}.scope` : `/ocirun/${id}`;
  const bundle = h.bundle((s) => {
    s.process!.args = ['sleep', '60'];
    s.linux!.cgroupsPath = opts.systemd ? `system.slice:ocirun-xcg:${id}` : `/ocirun/${id}`;
    if (namespaces) userAndCgroupNs(s);
  });
  const run = (args: string[]) => h.runWith(rt, opts.systemd ? ['--systemd-cgroup', ...args] : args);
  try {
    const started = run(['run', '-d', '--bundle', bundle, id]);
    // runc 1.1's systemd driver warns about device nodes the VM's kernel lacks.
    const warnings = started.stderr.split('\n').filter((l) => l && !(rt === 'runc' && /level=warning msg="skipping device /.test(l)));
    expect({ status: started.status, warnings }).toEqual({ status: 0, warnings: [] });
    const init = JSON.parse(run(['state', id]).stdout).pid as number;
    const cgroups = readFileSync(`/proc/${init}/cgroup`, 'utf8');
    // Not ours: every hierarchy has the container's own cgroup, so staying put would show.
    for (const line of cgroups.trim().split('\n')) expect(line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1)).toBe(cgroup);
    const pidFile = `${h.work}/${id}.exec.pid`;
    expect(run(['exec', '-d', '--pid-file', pidFile, id, 'sleep', '30'])).toMatchObject({ status: 0, stderr: '' });
    const child = Number(readFileSync(pidFile, 'utf8'));
    expect(readFileSync(`/proc/${child}/cgroup`, 'utf8')).toBe(cgroups);
    // And as the process sees it: in its cgroup namespace, the container's cgroup is the root.
    const inside = run(['exec', id, 'cat', '/proc/self/cgroup']);
    expect(inside).toMatchObject({ status: 0, stderr: '' });
    const seen = inside.stdout.trim().split('\n').map((l) => l.slice(l.lastIndexOf(':') + 1));
    expect(new Set(seen)).toEqual(new Set([namespaces ? '/' : cgroup]));
  } finally {
    run(['delete', '--force', id]);
  }
}
