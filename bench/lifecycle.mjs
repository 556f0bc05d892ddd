#!/usr/bin/env node
// Container lifecycle benchmark: ocirun against runc on the same bundle.
//
//   node bench/lifecycle.mjs [--runs N] [--config FILE]      (npm run bench)
//
// 1. Wall time of `run` of /bin/true in the default busybox bundle, ocirun and
//    runc alternately, N times each (default 30), plus bare `node -e 0` as the
//    floor any Node CLI pays. Prints median/p90, the median ratio ocirun/runc
//    and how far ocirun is above `node -e 0`.
// 2. `state` of a created container, ocirun and runc alternately, N times
//    each, with the same floor. ocirun's state takes the CLI's fast path
//    (no commander; src/cli/fast.ts).
// 3. Memory: VmRSS of the init waiting on exec.fifo after `create` of
//    `sleep 100`, for both runtimes.
// Each runtime gets its own --root (on tmpfs, as /run is on a real host: see
// stateParent in bench/common.mjs); everything is deleted in
// `finally` (also on Ctrl-C). --config FILE uses that config.json as the base
// instead of ocirun's default spec (process.args and terminal are overridden).
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildDefaultBundle } from '../scripts/default-bundle.mjs';
import {
  OCIRUN, describeFailure, exec, fmtKiB, fmtMs, percentile, repo, stateParent, vmRssKiB, which,
} from './common.mjs';

class Interrupted extends Error {}
let interrupted = null;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    interrupted = sig;
  });
}
function checkInterrupted() {
  if (interrupted) throw new Interrupted(`interrupted by ${interrupted}`);
}

function parseArgs(argv) {
  const opts = { runs: 30, config: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--runs' || a.startsWith('--runs=')) {
      opts.runs = Number(value());
      if (!Number.isInteger(opts.runs) || opts.runs < 1) usage('--runs must be a positive integer');
    } else if (a === '--config' || a.startsWith('--config=')) {
      opts.config = resolve(value());
    } else if (a === '-h' || a === '--help') {
      console.log('usage: node bench/lifecycle.mjs [--runs N] [--config FILE]');
      process.exit(0);
    } else {
      usage(`unknown argument ${a}`);
    }
  }
  return opts;
}

function usage(msg) {
  console.error(`bench: ${msg}\nusage: node bench/lifecycle.mjs [--runs N] [--config FILE]`);
  process.exit(2);
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    console.error('bench: ocirun and runc need root; run as root (e.g. sudo npm run bench)');
    return 1;
  }

  const runtimes = [];
  if (isExecutable(OCIRUN)) runtimes.push({ name: 'ocirun', cmd: OCIRUN, samples: [] });
  else console.log(`ocirun: ${OCIRUN} not found or not executable; skipping ocirun (build it with "npm run build")`);
  const runc = which('runc');
  if (runc) runtimes.push({ name: 'runc', cmd: runc, samples: [] });
  else console.log('runc: not installed (apt-get install runc); skipping the comparison');
  if (runtimes.length === 0) return 1;

  let failed = false;
  const created = []; // { rt, root, id } still to delete
  const tmp = await mkdtemp(join(tmpdir(), 'ocirun-bench-'));
  const stateDir = await mkdtemp(join(stateParent(), 'ocirun-bench-state-'));
  try {
    const bundle = join(tmp, 'bundle');
    const spec = opts.config ? JSON.parse(await readFile(opts.config, 'utf8')) : undefined;
    await buildDefaultBundle(bundle, {
      spec,
      args: ['/bin/true'],
      editSpec: (s) => {
        s.process.terminal = false;
      },
    });
    const configPath = join(bundle, 'config.json');
    const log = join(tmp, 'out.log');
    for (const rt of runtimes) rt.root = join(stateDir, rt.name);

    // --- 1. run /bin/true ------------------------------------------------------
    console.log(`lifecycle: "run" of /bin/true in the default busybox bundle, ${opts.runs} runs each (after 1 warm-up)`);
    const node = { name: 'node -e 0', samples: [] };
    for (let i = -1; i < opts.runs; i++) {
      checkInterrupted();
      const r = await exec(process.execPath, ['-e', '0'], log);
      if (i >= 0) node.samples.push(r.ms);
      for (const rt of runtimes) {
        if (rt.error) continue;
        checkInterrupted();
        const id = `id-${i < 0 ? 'warmup' : i}`;
        created.push({ rt, id });
        const res = await exec(rt.cmd, ['--root', rt.root, 'run', '--bundle', bundle, id], log);
        if (res.code !== 0) {
          rt.error = `${rt.name} run failed (${describeFailure(res)})`;
          console.log(`  ${rt.error}; no more ${rt.name} runs`);
          failed = true;
          continue;
        }
        created.pop(); // run deletes the container when it exits
        if (i >= 0) rt.samples.push(res.ms);
      }
    }

    const rows = [node, ...runtimes.filter((rt) => rt.samples.length > 0)];
    for (const row of rows) {
      const med = percentile(row.samples, 50);
      let line = `  ${row.name.padEnd(10)} median ${fmtMs(med)}   p90 ${fmtMs(percentile(row.samples, 90))}`;
      if (row.name === 'ocirun') {
        const over = med - percentile(node.samples, 50);
        line += `   (${over >= 0 ? '+' : ''}${over.toFixed(1)} ms vs bare node -e 0)`;
      }
      console.log(line);
    }
    const o = runtimes.find((rt) => rt.name === 'ocirun' && rt.samples.length > 0);
    const c = runtimes.find((rt) => rt.name === 'runc' && rt.samples.length > 0);
    if (o && c) {
      console.log(`  median ratio ocirun/runc: ${(percentile(o.samples, 50) / percentile(c.samples, 50)).toFixed(2)}x`);
    }

    // --- 2. state of a created container ----------------------------------------
    checkInterrupted();
    console.log(`state: "state" of a created container, ${opts.runs} runs each`);
    const stateNode = { name: 'node -e 0', samples: [] };
    const stateRows = [];
    for (const rt of runtimes) {
      if (rt.error) continue;
      const id = `state-${process.pid}`;
      created.push({ rt, id });
      const res = await exec(rt.cmd, ['--root', rt.root, 'create', '--bundle', bundle, id], log);
      if (res.code !== 0) {
        console.log(`  ${rt.name} create failed (${describeFailure(res)})`);
        failed = true;
        created.pop();
        continue;
      }
      stateRows.push({ rt, id, name: rt.name, samples: [] });
    }
    for (let i = -1; i < opts.runs; i++) {
      checkInterrupted();
      const r = await exec(process.execPath, ['-e', '0'], log);
      if (i >= 0) stateNode.samples.push(r.ms);
      for (const row of stateRows) {
        const res = await exec(row.rt.cmd, ['--root', row.rt.root, 'state', row.id], log);
        if (res.code !== 0 || !res.output.includes('"created"')) {
          console.log(`  ${row.name} state failed (${describeFailure(res)})`);
          failed = true;
        } else if (i >= 0) row.samples.push(res.ms);
      }
    }
    for (const row of [stateNode, ...stateRows.filter((r) => r.samples.length > 0)]) {
      const med = percentile(row.samples, 50);
      let line = `  ${row.name.padEnd(10)} median ${fmtMs(med)}   p90 ${fmtMs(percentile(row.samples, 90))}`;
      if (row.name === 'ocirun') {
        const over = med - percentile(stateNode.samples, 50);
        line += `   (${over >= 0 ? '+' : ''}${over.toFixed(1)} ms vs bare node -e 0)`;
      }
      console.log(line);
    }
    const so = stateRows.find((r) => r.name === 'ocirun' && r.samples.length > 0);
    const sc = stateRows.find((r) => r.name === 'runc' && r.samples.length > 0);
    if (so && sc) console.log(`  median ratio ocirun/runc: ${(percentile(so.samples, 50) / percentile(sc.samples, 50)).toFixed(2)}x`);
    for (const row of stateRows) {
      const del = await exec(row.rt.cmd, ['--root', row.rt.root, 'delete', '--force', row.id], log);
      if (del.code === 0) created.splice(created.findIndex((c) => c.rt === row.rt && c.id === row.id), 1);
    }

    // --- 3. memory of the waiting init -----------------------------------------
    checkInterrupted();
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    config.process.args = ['sleep', '100'];
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

    console.log('memory: VmRSS of the init waiting for "start" after "create" of sleep 100');
    const rss = {};
    for (const rt of runtimes) {
      checkInterrupted();
      const id = `mem-${process.pid}`;
      created.push({ rt, id });
      const res = await exec(rt.cmd, ['--root', rt.root, 'create', '--bundle', bundle, id], log);
      if (res.code !== 0) {
        console.log(`  ${rt.name.padEnd(7)} create failed (${describeFailure(res)})`);
        failed = true;
        continue;
      }
      const st = await exec(rt.cmd, ['--root', rt.root, 'state', id], log);
      let pid;
      try {
        if (st.code !== 0) throw new Error(describeFailure(st));
        pid = JSON.parse(st.output).pid;
        if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in state: ${st.output.trim()}`);
        rss[rt.name] = vmRssKiB(pid);
        console.log(`  ${rt.name.padEnd(7)} ${fmtKiB(rss[rt.name]).padStart(9)}   (pid ${pid})`);
      } catch (err) {
        console.log(`  ${rt.name.padEnd(7)} state failed (${err.message})`);
        failed = true;
      }
      const del = await exec(rt.cmd, ['--root', rt.root, 'delete', '--force', id], log);
      if (del.code === 0) created.pop();
      else {
        console.log(`  ${rt.name} delete --force failed (${describeFailure(del)})`);
        failed = true;
      }
    }
    if (rss.ocirun && rss.runc) console.log(`  ratio ocirun/runc: ${(rss.ocirun / rss.runc).toFixed(2)}x`);
  } finally {
    // Best effort: whatever is left from a failure or an interrupt.
    for (const { rt, id } of created.reverse()) {
      await exec(rt.cmd, ['--root', rt.root, 'delete', '--force', id], join(tmp, 'cleanup.log'));
    }
    await rm(tmp, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    if (err instanceof Interrupted) {
      console.error(`bench: ${err.message}; cleaned up`);
      process.exitCode = 130;
    } else {
      console.error(err?.name === 'BundleError' ? `bench: ${err.message}` : err);
      process.exitCode = 1;
    }
  },
);
