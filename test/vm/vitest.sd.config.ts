// Runs test/vm/*.sd.ts, the tests that need systemd as PID 1 (the systemd
// cgroup driver, CRI with SystemdCgroup = true), inside the test VM booted
// with --systemd (see test/vm/systemd.vm.test.ts); the default config never
// includes them.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/vm/**/*.sd.ts'],
    pool: 'forks',
    fileParallelism: false,
    // Everything in the VM is ~20x slower (software emulation).
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
