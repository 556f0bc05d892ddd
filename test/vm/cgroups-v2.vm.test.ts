// Proof on a pure cgroup v2 kernel: one VM boot (test/vm/run.mjs) running
// test/vm/cgroups.v2.ts inside, against the prebuilt dist/ and build/ of this
// tree. The inner file is outside the default include, so only this wrapper
// runs it, and only in the VM.
import { describe, expect, it } from 'vitest';
import { runInVm } from './run.mjs';

const isRoot = process.getuid?.() === 0;

describe.runIf(isRoot && !process.env.OCIRUN_TEST_VM)('cgroup v2 tests in the VM', () => {
  it('test/vm/cgroups.v2.ts passes on pure cgroup v2', { timeout: 1_800_000 }, async () => {
    const r = await runInVm(
      ['./node_modules/.bin/vitest', 'run', '--config', 'test/vm/vitest.v2.config.ts', '--reporter', 'verbose'],
      { timeout: 1_700, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', NO_COLOR: '1', CI: 'true' } },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    const ctx = `status ${r.status}${r.timedOut ? ' (timed out)' : ''}\n${out}\nconsole tail:\n${r.console.slice(-4000)}`;
    expect(r.timedOut, ctx).toBe(false);
    expect(r.status, ctx).toBe(0);
    // Every inner test ran and passed: none skipped because the guest was not what it should be.
    const m = /Tests\s+(\d+) passed \((\d+)\)/.exec(out);
    expect(m, ctx).not.toBeNull();
    expect(Number(m![1]), ctx).toBe(Number(m![2]));
    expect(Number(m![1]), ctx).toBeGreaterThanOrEqual(9);
  });
});
