#!/usr/bin/env node
// Where the time goes: one container's lifecycle through the Runtime API cut
// into phases, from CLOCK_MONOTONIC marks taken by this process, the addon and
// the init helper (create's `timing` option: the plan's `timing`, MSG_TIMING).
//
//   node bench/phases.mjs [--runs N]
//
// For the default bundle and for runc's own `runc spec`: prints the median of
// each phase over N containers running /bin/true, then
// the same steps with runc's CLI in the same run (runc create / start / delete,
// waiting for the exit in between) for scale; runc offers no finer breakdown.
import { closeSync, openSync } from 'node:fs';
import {
  benchDir, checkInterrupted, exec, findRunc, fmtMs, loadLibrary, median, mustExec, parseIntFlags, ratio, requireRoot, runcSpecBundle, cleanUp,
} from './common.mjs';

const USAGE = 'usage: node bench/phases.mjs [--runs N]';

/** Phases as (label, from mark, to mark); a phase is skipped when a mark is missing. */
const PHASES = [
  ['config load + validate', 'create.begin', 'config.loaded'],
  ['plan build', 'config.loaded', 'plan.built'],
  ['plan encode', 'plan.built', 'plan.encoded'],
  ['state dir claim', 'plan.encoded', 'state.claimed'],
  ['cgroups made', 'state.claimed', 'cgroups.made'],
  ['libuv queue → worker', 'cgroups.made', 'spawn.begin'],
  ['helper memfd (cached)', 'spawn.begin', 'helper.sealed'],
  ['helper spawn (clone)', 'helper.sealed', 'helper.started'],
  ['helper exec → main()', 'helper.started', 'helper.main'],
  ['plan read + decode', 'helper.main', 'plan.decoded'],
  ['namespaces (join)', 'plan.decoded', 'namespaces.joined'],
  ['namespaces (clone3)', 'namespaces.joined', 'init.cloned'],
  ['pid sent + id maps', 'init.cloned', 'id.mapped'],
  ['init released', 'id.mapped', 'init.running'],
  ['rootfs prepare', 'init.running', 'root.prepared'],
  ['mounts', 'root.prepared', 'mounts.done'],
  ['devices + symlinks', 'mounts.done', 'devices.done'],
  ['pivot_root', 'devices.done', 'pivoted'],
  ['sysctl, ro/masked paths', 'pivoted', 'hardened'],
  ['rlimits, cwd, find exe', 'hardened', 'exec.resolved'],
  ['ready → runtime', 'exec.resolved', 'ready.received'],
  ['record state + commit', 'ready.received', 'create.done'],
];

async function main() {
  const opts = parseIntFlags(process.argv.slice(2), { runs: 30 }, USAGE);
  requireRoot();
  const { Runtime } = await loadLibrary();
  const runc = findRunc();
  const env = await benchDir(['/bin/true']);
  const devnull = openSync('/dev/null', 'r+');
  const rt = new Runtime({ root: env.rootOf('ocirun') });
  let failed = false;
  let seq = 0;
  // One config: its phases, then its lifecycle steps against runc's CLI.
  const measure = async (name, bundle) => {
    const samples = new Map(PHASES.map(([label]) => [label, []]));
    const steps = { create: [], start: [], 'start → exit seen': [], delete: [], total: [] };
    const runcSteps = { create: [], start: [], 'start → exit seen': [], delete: [], total: [] };
    for (let i = -1; i < opts.runs; i++) {
      checkInterrupted();
      const id = `ph-${seq++}`;
      const t0 = performance.now();
      const c = await rt.create(id, bundle, { stdio: [devnull, devnull, devnull], timing: true });
      const t1 = performance.now();
      await rt.start(id);
      const t2 = performance.now();
      await rt.wait(id);
      const t3 = performance.now();
      await rt.delete(id);
      const t4 = performance.now();
      if (i < 0) continue;
      const at = new Map(c.timings.map((m) => [m.phase, m.ns]));
      for (const [label, from, to] of PHASES) {
        if (at.has(from) && at.has(to)) samples.get(label).push(Number(at.get(to) - at.get(from)) / 1e6);
      }
      steps.create.push(t1 - t0);
      steps.start.push(t2 - t1);
      steps['start → exit seen'].push(t3 - t2);
      steps.delete.push(t4 - t3);
      steps.total.push(t4 - t0);

      if (runc) {
        const root = env.rootOf('runc');
        const rid = `r${id}`;
        const r0 = performance.now();
        await mustExec(runc, ['--root', root, 'create', '--bundle', bundle, rid], env.log);
        const r1 = performance.now();
        await mustExec(runc, ['--root', root, 'start', rid], env.log);
        const r2 = performance.now();
        // runc has no wait: poll its state as an agent would.
        for (;;) {
          const s = await exec(runc, ['--root', root, 'state', rid], env.log);
          if (s.code !== 0 || s.output.includes('"stopped"')) break;
        }
        const r3 = performance.now();
        await mustExec(runc, ['--root', root, 'delete', rid], env.log);
        const r4 = performance.now();
        runcSteps.create.push(r1 - r0);
        runcSteps.start.push(r2 - r1);
        runcSteps['start → exit seen'].push(r3 - r2);
        runcSteps.delete.push(r4 - r3);
        runcSteps.total.push(r4 - r0);
      }
    }

    console.log(`phases (${name}): median over ${opts.runs} containers of /bin/true (Runtime API, create with timing)`);
    let sum = 0;
    for (const [label] of PHASES) {
      const s = samples.get(label);
      if (s.length === 0) continue;
      const m = median(s);
      sum += m;
      // Two decimals: several phases (the plan's encode and decode) are a fraction of a millisecond.
      console.log(`  ${label.padEnd(26)} ${m.toFixed(2).padStart(7)} ms`);
    }
    console.log(`  ${'sum of phase medians'.padEnd(26)} ${fmtMs(sum)}`);
    console.log('lifecycle steps, median (ocirun API in-process vs runc CLI spawned from this process):');
    for (const [step, s] of Object.entries(steps)) {
      let line = `  ${step.padEnd(20)} ocirun ${fmtMs(median(s))}`;
      if (runc) line += `   runc ${fmtMs(median(runcSteps[step]))}   ratio ocirun/runc ${ratio(median(s), median(runcSteps[step]))}`;
      console.log(line);
    }
  };
  try {
    await measure('default bundle', env.bundle);
    const specDir = runcSpecBundle(env, runc, ['/bin/true']);
    if (specDir) await measure("runc's spec", specDir);
  } catch (err) {
    console.log(`  failed: ${err.message}`);
    failed = true;
  } finally {
    closeSync(devnull);
    await cleanUp({ rt, runc, env });
  }
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(`bench: ${err?.message ?? err}`); process.exitCode = 1; });
