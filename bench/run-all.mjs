#!/usr/bin/env node
// `npm run bench`: every benchmark in bench/ in sequence (never two at once:
// they would measure each other), each with its default sizes. A failing
// benchmark is reported and the rest still run; the exit code says whether
// all of them succeeded.
//
//   node bench/run-all.mjs [name...]      e.g. node bench/run-all.mjs api scale
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// Helpers, not benchmarks; engine.mjs prints cri-pod-start's figures.
const NOT_BENCHES = new Set(['common.mjs', 'run-all.mjs', 'cri-pod-start.mjs']);
// The issue's order: library lifecycle, CLI and memory, scale, breakdown; then the rest.
const FIRST = ['api.mjs', 'lifecycle.mjs', 'scale.mjs', 'phases.mjs'];

const all = readdirSync(here).filter((f) => f.endsWith('.mjs') && !NOT_BENCHES.has(f));
const ordered = [...FIRST.filter((f) => all.includes(f)), ...all.filter((f) => !FIRST.includes(f)).sort()];
const wanted = process.argv.slice(2).map((n) => (n.endsWith('.mjs') ? n : `${n}.mjs`));
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length > 0) {
  console.error(`bench: no such benchmark: ${unknown.join(', ')} (have: ${ordered.join(', ')})`);
  process.exit(2);
}
const run = wanted.length > 0 ? ordered.filter((f) => wanted.includes(f)) : ordered;

const failed = [];
for (const file of run) {
  console.log(`\n=== ${file} ===`);
  const r = spawnSync(process.execPath, [join(here, file)], { stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${file} (${r.signal ?? `exit ${r.status}`})`);
  if (r.signal === 'SIGINT' || r.status === 130) break;
}
console.log(failed.length === 0 ? `\nbench: ${run.length} benchmark${run.length === 1 ? '' : 's'} done` : `\nbench: failed: ${failed.join(', ')}`);
process.exitCode = failed.length === 0 ? 0 : 1;
