#!/usr/bin/env node
// What `exec` costs: `exec ID /bin/true` into one running container (a sleep),
// ocirun and runc side by side on the same bundle, interleaved so both see the
// same machine state; plus `exec -d` (returns once the program runs). Prints
// median and p90 wall time per runtime and case and the ocirun/runc ratios.
// The containers and the temp dir go in `finally`. --gap MS sleeps before each
// exec, as a probe every few seconds would: a cgroup.procs write then finds the
// kernel's rcu_sync cold and waits for an RCU grace period (docs/performance.md).
//
//   node bench/exec.mjs [--runs N] [--gap MS]
import {
  OCIRUN, benchDir, checkInterrupted, describeFailure, exec, findRunc, fmtMs, median, mustExec, parseIntFlags, percentile,
  ratio, requireRoot,
} from './common.mjs';

const USAGE = 'usage: node bench/exec.mjs [--runs N] [--gap MS]';

async function main() {
  const opts = parseIntFlags(process.argv.slice(2), { runs: 40, gap: 0 }, USAGE);
  requireRoot();
  const runc = findRunc();
  const env = await benchDir(['sleep', '3600']);
  const runners = [
    ['ocirun', OCIRUN, (...a) => ['--root', env.rootOf('ocirun'), ...a]],
    ...(runc ? [['runc', runc, (...a) => ['--root', env.rootOf('runc'), ...a]]] : []),
  ];
  const started = [];
  try {
    for (const [name, cmd, argv] of runners) {
      await mustExec(cmd, argv('run', '-d', '--bundle', env.bundle, `bench-${name}`), env.log);
      started.push([name, cmd, argv]);
    }
    console.log(`exec into a running container: ${opts.runs} runs each${opts.gap ? `, ${opts.gap} ms quiet before each` : ''}`);
    const cases = [['exec true', ['/bin/true']], ['exec -d true', ['-d'], ['/bin/true']]];
    const samples = new Map();
    // One warm-up round, not recorded: page cache, the helper's sealed memfd.
    for (let i = -1; i < opts.runs; i++) {
      for (const [name, cmd, argv] of runners) {
        for (const [label, first, rest] of cases) {
          checkInterrupted();
          if (opts.gap) await new Promise((r) => setTimeout(r, opts.gap));
          const args = rest ? argv('exec', ...first, `bench-${name}`, ...rest) : argv('exec', `bench-${name}`, ...first);
          const r = await exec(cmd, args, env.log);
          if (r.code !== 0) throw new Error(`${name} ${label}: ${describeFailure(r)}`);
          if (i < 0) continue;
          const key = `${name}/${label}`;
          samples.set(key, [...(samples.get(key) ?? []), r.ms]);
        }
      }
    }
    for (const [label] of cases) {
      for (const [name] of runners) {
        const s = samples.get(`${name}/${label}`);
        console.log(`  ${label.padEnd(14)} ${name.padEnd(7)} median ${fmtMs(median(s))}   p90 ${fmtMs(percentile(s, 90))}`);
      }
      if (runc) {
        const o = median(samples.get(`ocirun/${label}`));
        const r = median(samples.get(`runc/${label}`));
        console.log(`  ${label.padEnd(14)} ocirun/runc ${ratio(o, r)} (median)`);
      }
    }
  } finally {
    for (const [name, cmd, argv] of started) await exec(cmd, argv('delete', '--force', `bench-${name}`), env.log);
    await env.remove();
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
