#!/usr/bin/env node
// What a typical seccomp profile costs at start-up: `run` of /bin/true with and
// without Docker's default profile (~350 syscall names, argument rules;
// test/fixtures/seccomp-docker-default.json), ocirun and runc side by side on
// the same bundle, interleaved so both see the same machine state.
//
//   node bench/seccomp.mjs [--runs N]
//
// ocirun runs the profile twice: with its compiled-filter cache warm, and
// "cold" (cache removed before each run, so libseccomp compiles every time,
// as runc always does). Prints median and p90 wall time per runtime and case,
// the seccomp overhead (median with profile - median without) and the
// ocirun/runc ratios. Then the same cases through the library API, where no
// Node start-up hides the cost. Everything lives in a temp dir removed in
// `finally`.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  OCIRUN, benchDir, checkInterrupted, describeFailure, exec, findRunc, fmtMs, loadLibrary, median, parseIntFlags, percentile,
  ratio, repo, requireRoot,
} from './common.mjs';

const USAGE = 'usage: node bench/seccomp.mjs [--runs N]';
const PROFILE = join(repo, 'test', 'fixtures', 'seccomp-docker-default.json');

async function main() {
  const opts = parseIntFlags(process.argv.slice(2), { runs: 30 }, USAGE);
  requireRoot();
  const runc = findRunc();
  const env = await benchDir(['/bin/true']);
  try {
    // A second bundle: same rootfs, the config plus the profile.
    const plain = env.bundle;
    const filtered = join(env.dir, 'bundle-seccomp');
    await mkdir(filtered);
    const spec = JSON.parse(await readFile(join(plain, 'config.json'), 'utf8'));
    spec.root.path = join(plain, spec.root.path);
    spec.linux.seccomp = JSON.parse(readFileSync(PROFILE, 'utf8'));
    await writeFile(join(filtered, 'config.json'), JSON.stringify(spec));
    const rules = spec.linux.seccomp.syscalls.reduce((n, s) => n + s.names.length, 0);
    console.log(`seccomp start-up cost: run /bin/true, ${opts.runs} runs each, profile with ${rules} syscall names`);

    const runners = [
      ['ocirun', OCIRUN, (root, bundle, id) => ['--root', root, 'run', '--bundle', bundle, id]],
      ...(runc ? [['runc', runc, (root, bundle, id) => ['--root', root, 'run', '--bundle', bundle, id]]] : []),
    ];
    // ocirun keeps compiled filters in <root>.seccomp-cache; "cold" removes it before each run.
    const cases = [['no seccomp', plain], ['docker profile', filtered], ['docker profile, cold', filtered]];
    const applies = (name, label) => name === 'ocirun' || !label.endsWith('cold');
    const samples = new Map();
    for (const [name] of runners) for (const [label] of cases) if (applies(name, label)) samples.set(`${name}/${label}`, []);

    // One warm-up round, not recorded: page cache, the helper's sealed memfd.
    for (let i = -1; i < opts.runs; i++) {
      for (const [name, cmd, argv] of runners) {
        for (const [label, bundle] of cases) {
          if (!applies(name, label)) continue;
          checkInterrupted();
          if (label.endsWith('cold')) await rm(`${env.rootOf(name)}.seccomp-cache`, { recursive: true, force: true });
          const id = `sc-${process.pid}-${i < 0 ? 'w' : i}`;
          const r = await exec(cmd, argv(env.rootOf(name), bundle, id), env.log);
          if (r.code !== 0) throw new Error(`${name} run (${label}): ${describeFailure(r)}`);
          if (i >= 0) samples.get(`${name}/${label}`).push(r.ms);
        }
      }
    }

    console.log('');
    console.log(`${'runtime / profile'.padEnd(28)}${'median'.padStart(10)}${'p90'.padStart(11)}`);
    for (const [key, s] of samples) console.log(`${key.padEnd(28)}${fmtMs(median(s))} ${fmtMs(percentile(s, 90))}`);
    console.log('');
    for (const key of samples.keys()) {
      const [name, label] = key.split('/');
      if (label === 'no seccomp') continue;
      const base = median(samples.get(`${name}/no seccomp`));
      const extra = median(samples.get(key)) - base;
      console.log(`${`${name} overhead, ${label}`.padEnd(36)}${fmtMs(extra)}  (${((extra / base) * 100).toFixed(1)}% of its start-up)`);
    }
    if (runc) {
      console.log('');
      for (const [label] of cases.filter(([l]) => applies('runc', l))) {
        console.log(`${`ocirun/runc, ${label}`.padEnd(36)}${ratio(median(samples.get(`ocirun/${label}`)), median(samples.get(`runc/${label}`))).padStart(10)}`);
      }
    }
    await apiRuns(opts.runs, env, cases);
  } finally {
    await env.remove();
  }
}

/**
 * The same cases through the library (no Node start-up per container), where
 * seccomp's share of `create` is largest: create, start, wait, delete in-process.
 */
async function apiRuns(runs, env, cases) {
  const { Runtime } = await loadLibrary();
  const devnull = openSync('/dev/null', 'r+');
  const root = join(env.dir, 'root-api');
  const rt = new Runtime({ root });
  const create = new Map(cases.map(([label]) => [label, []]));
  const total = new Map(cases.map(([label]) => [label, []]));
  try {
    for (let i = -1; i < runs; i++) {
      for (const [label, bundle] of cases) {
        checkInterrupted();
        if (label.endsWith('cold')) await rm(`${root}.seccomp-cache`, { recursive: true, force: true });
        const id = `api-${i < 0 ? 'w' : i}-${label.replace(/\W+/g, '-')}`;
        const t0 = performance.now();
        await rt.create(id, bundle, { stdio: [devnull, devnull, devnull] });
        const t1 = performance.now();
        await rt.start(id);
        await rt.wait(id);
        await rt.delete(id);
        if (i < 0) continue;
        create.get(label).push(t1 - t0);
        total.get(label).push(performance.now() - t0);
      }
    }
  } finally {
    closeSync(devnull);
  }
  console.log('');
  console.log(`library API (in-process): create and create→start→wait→delete, median of ${runs}`);
  const base = median(create.get('no seccomp'));
  for (const [label] of cases) {
    const c = median(create.get(label));
    const extra = label === 'no seccomp' ? '' : `   create +${(c - base).toFixed(1)} ms`;
    console.log(`  ${label.padEnd(24)} create ${fmtMs(c)}   total ${fmtMs(median(total.get(label)))}${extra}`);
  }
}

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  process.exit(1);
});
