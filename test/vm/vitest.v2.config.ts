// Runs test/vm/*.v2.ts, the cgroup v2 tests, inside the test VM (see
// test/vm/cgroups-v2.vm.test.ts); the default config never includes them.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/vm/**/*.v2.ts'],
    pool: 'forks',
    fileParallelism: false,
    // Everything in the VM is ~20x slower (software emulation).
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
