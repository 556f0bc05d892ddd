#!/usr/bin/env node
// Container lifecycle from a Node process: create → start → wait → delete of
// /bin/true through ocirun's Runtime API, against spawning `runc run` (which
// does the same four steps) from the same Node process.
//
//   node bench/api.mjs [--cycles N] [--rounds R]
//
// Each round runs N cycles with ocirun, then N with runc (the order swaps every
// round so neither always runs on a warmer machine), first one at a time, then
// with 2 in flight. Throughput = cycles / wall time over all rounds; the ratio
// is ocirun's throughput over runc's, for the default bundle and for runc's own
// `runc spec`. Target: >= 3x, both ways, on both configs.
import { openSync, closeSync } from 'node:fs';
import {
  benchDir, checkInterrupted, describeFailure, exec, findRunc, loadLibrary, median, parseIntFlags, pool, requireRoot, runcSpecBundle, cleanUp,
} from './common.mjs';

const USAGE = 'usage: node bench/api.mjs [--cycles N] [--rounds R]';

async function main() {
  const opts = parseIntFlags(process.argv.slice(2), { cycles: 20, rounds: 3 }, USAGE);
  requireRoot();
  const { Runtime } = await loadLibrary();
  const runc = findRunc();
  const env = await benchDir(['/bin/true']);
  const devnull = openSync('/dev/null', 'r+');
  const rt = new Runtime({ root: env.rootOf('ocirun') });
  // Two configs: the default bundle, and runc's own `runc spec`.
  const bundles = [['default bundle', env.bundle]];
  const specDir = runcSpecBundle(env, runc, ['/bin/true']);
  if (specDir) bundles.push(["runc's spec", specDir]);
  let bundle = env.bundle;
  let seq = 0;
  let failed = false;
  try {
    const engines = {
      ocirun: async () => {
        const id = `api-${seq++}`;
        await rt.create(id, bundle, { stdio: [devnull, devnull, devnull] });
        await rt.start(id);
        const status = await rt.wait(id);
        await rt.delete(id);
        if (status.exitCode !== 0) throw new Error(`ocirun: /bin/true exited ${JSON.stringify(status)}`);
      },
    };
    if (runc) {
      engines.runc = async () => {
        const id = `runc-${seq++}`;
        const r = await exec(runc, ['--root', env.rootOf('runc'), 'run', '--bundle', bundle, id], `${env.log}.${id}`);
        if (r.code !== 0) throw new Error(`runc run: ${describeFailure(r)}`);
      };
    }
    // Warm-up: page cache, the helper's sealed memfd, runc's binary.
    for (const run of Object.values(engines)) await run();

    for (const [bundleName, dir] of bundles) {
      bundle = dir;
      console.log(`api (${bundleName}): create → start → wait → delete of /bin/true, ${opts.rounds} rounds of ${opts.cycles} cycles per runtime`);
      for (const width of [1, 2]) {
        const totals = Object.fromEntries(Object.keys(engines).map((k) => [k, { ms: 0, cycles: 0, batches: [] }]));
        for (let r = 0; r < opts.rounds; r++) {
          const order = Object.keys(engines);
          if (r % 2 === 1) order.reverse();
          for (const name of order) {
            checkInterrupted();
            const t0 = performance.now();
            await pool(opts.cycles, width, () => engines[name]());
            const ms = performance.now() - t0;
            totals[name].ms += ms;
            totals[name].cycles += opts.cycles;
            totals[name].batches.push(ms / opts.cycles);
          }
        }
        const label = width === 1 ? 'sequential' : `${width} in flight`;
        const tput = {};
        for (const [name, t] of Object.entries(totals)) {
          tput[name] = (t.cycles * 1000) / t.ms;
          console.log(`  ${label.padEnd(12)} ${name.padEnd(7)} ${tput[name].toFixed(1).padStart(6)} containers/s` +
            `   (${(t.ms / t.cycles).toFixed(1)} ms per container, median batch ${median(t.batches).toFixed(1)} ms)`);
        }
        if (tput.runc) {
          const x = tput.ocirun / tput.runc;
          console.log(`  ${label.padEnd(12)} throughput ratio ocirun/runc: ${x.toFixed(2)}x ${x >= 3 ? '(target >= 3x met)' : '(target >= 3x NOT met)'}`);
        }
      }
    }
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
