// One VM boot with systemd as PID 1 (test/vm/run.mjs --systemd) running every
// test/vm/*.sd.ts file inside, against the prebuilt dist/ and build/ of this
// tree. The inner files are outside the default include, so only this wrapper
// runs them, and only in that VM.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runInVm } from './run.mjs';

const isRoot = process.getuid?.() === 0;
const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here).filter((n) => n.endsWith('.sd.ts')).sort();

describe.runIf(isRoot && !process.env.OCIRUN_TEST_VM)('systemd (PID 1) tests in the VM', () => {
  it(`test/vm/*.sd.ts (${files.join(', ')}) pass under systemd on pure cgroup v2`, { timeout: 1_800_000 }, async () => {
    // TMPDIR on a tmpfs of its own: the guest's / is an overlay, which cannot be
    // the upper layer of another (containerd's overlayfs snapshots).
    const r = await runInVm(
      ['sh', '-c', 'mount -t tmpfs -o mode=1777 ocirun-sd-tmp /var/tmp && TMPDIR=/var/tmp exec "$@"', 'sh',
        './node_modules/.bin/vitest', 'run', '--config', 'test/vm/vitest.sd.config.ts', '--reporter', 'verbose'],
      { systemd: true, timeout: 1_700, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', NO_COLOR: '1', CI: 'true' } },
    );
    const out = `${r.stdout}\n${r.stderr}`;
    const ctx = `status ${r.status}${r.timedOut ? ' (timed out)' : ''}\n${out}\ntimings: ${JSON.stringify(r.timings)}\nconsole tail:\n${r.console.slice(-4000)}`;
    expect(r.timedOut, ctx).toBe(false);
    expect(r.status, ctx).toBe(0);
    // Every file ran, and every inner test ran and passed: none skipped
    // because the guest was not what it should be.
    const f = /Test Files\s+(\d+) passed \((\d+)\)/.exec(out);
    expect(f, ctx).not.toBeNull();
    expect(Number(f![1]), ctx).toBe(files.length);
    expect(Number(f![2]), ctx).toBe(files.length);
    const m = /Tests\s+(\d+) passed \((\d+)\)/.exec(out);
    expect(m, ctx).not.toBeNull();
    expect(Number(m![1]), ctx).toBe(Number(m![2]));
    expect(Number(m![1]), ctx).toBeGreaterThanOrEqual(files.length);
  });
});
