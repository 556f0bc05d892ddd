#!/usr/bin/env node
// Unpack benchmark: `ocirun unpack` against `umoci unpack` on the same image.
//
//   node bench/unpack.mjs [--runs N] [--dir DIR] [--keep]
//
// 1. Builds a 3-layer OCI image with umoci from copies of system directories
//    (/etc, zoneinfo, perl, a Python stdlib, i18n; whatever exists), with
//    deletions (whiteouts) and mode changes in the top layer: a few thousand
//    files, about a hundred MB unpacked.
// 2. One untimed run of each tool (page cache), then N timed runs (default
//    5), alternating which tool goes first. `umoci raw unpack` (no mtree
//    manifest, extraction only) runs too, for context.
// 3. Prints median/min/max wall time and median CPU time (user+sys of the
//    child) per tool, and the median ratios.
//
// Outputs are kept until the end: ext4 skips inodes freed in the last ~30 s
// when allocating, so creating thousands of files right after deleting
// thousands is much slower, and whichever tool ran after a deletion would
// pay for it. The work dir (default .bench-unpack-* in the repo, ignored by
// git) is removed at the end, also on Ctrl-C, unless --keep.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OCIRUN = join(repo, 'bin', 'ocirun');
const TAG = 'bench';

function usage(msg) {
  if (msg) console.error(`bench/unpack: ${msg}`);
  console.error('usage: node bench/unpack.mjs [--runs N] [--dir DIR] [--keep]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { runs: 5, dir: repo, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i] ?? usage(`${a} needs a value`));
    if (a === '--runs' || a.startsWith('--runs=')) {
      o.runs = Number(value());
      if (!Number.isInteger(o.runs) || o.runs < 1) usage('--runs must be a positive integer');
    } else if (a === '--dir' || a.startsWith('--dir=')) o.dir = resolve(value());
    else if (a === '--keep') o.keep = true;
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

let ticks;
/** user+sys seconds of waited-for children, from /proc/self/stat (cutime, cstime). */
function childCpu() {
  ticks ??= Number(run('getconf', ['CLK_TCK']).trim()) || 100;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / ticks;
}

function tree(dir) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      files++;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) bytes += statSync(p).size;
    }
  };
  walk(dir);
  return { files, bytes };
}

/** A 3-layer image; each layer is a repack of a freshly unpacked bundle (umoci repack builds on the unpacked manifest). */
function buildImage(work) {
  const img = join(work, 'img');
  const b = join(work, 'build');
  const R = join(b, 'rootfs');
  const layer = () => {
    run('umoci', ['repack', '--image', `${img}:${TAG}`, b]);
    rmSync(b, { recursive: true, force: true });
    run('umoci', ['unpack', '--image', `${img}:${TAG}`, b]);
  };
  const copy = (src, destDir) => {
    if (!existsSync(src)) return;
    run('mkdir', ['-p', join(R, destDir)]);
    run('cp', ['-a', src, join(R, destDir)]);
  };
  run('umoci', ['init', '--layout', img]);
  run('umoci', ['new', '--image', `${img}:${TAG}`]);
  run('umoci', ['unpack', '--image', `${img}:${TAG}`, b]);
  copy('/etc', '.');
  copy('/usr/share/zoneinfo', 'usr/share');
  copy('/usr/share/perl', 'usr/share');
  layer();
  const py = readdirSync('/usr/lib').filter((n) => /^python3\.\d+$/.test(n)).sort().pop();
  if (py) copy(join('/usr/lib', py), 'usr/lib');
  else copy('/usr/share/doc', 'usr/share');
  layer();
  for (const gone of ['usr/share/zoneinfo/America', py ? `usr/lib/${py}/email` : 'usr/share/doc/bash']) rmSync(join(R, gone), { recursive: true, force: true });
  run('chmod', ['-R', 'go-rx', join(R, 'usr/share/perl')]);
  copy('/usr/share/i18n', 'usr/share');
  const stats = tree(R);
  run('umoci', ['repack', '--image', `${img}:${TAG}`, b]);
  rmSync(b, { recursive: true, force: true });
  const blobs = join(img, 'blobs', 'sha256');
  const stored = readdirSync(blobs).reduce((n, f) => n + statSync(join(blobs, f)).size, 0);
  if (stats.files < 1000) throw new Error(`the bench image has only ${stats.files} files: too few system directories to copy here`);
  return { img, ...stats, stored };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage('needs root (ownership, device nodes), like ocirun itself');
  if (spawnSync('umoci', ['--version']).status !== 0) usage('umoci is not installed (apt-get install umoci)');
  if (!existsSync(join(repo, 'rootfs-tools', 'dist', 'unpack.js'))) usage('rootfs-tools is not built: run "npm run build"');

  const work = mkdtempSync(join(o.dir, '.bench-unpack-'));
  let interrupted = false;
  const cleanup = () => {
    if (!o.keep) rmSync(work, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      interrupted = true;
    });
  }
  try {
    process.stderr.write('bench/unpack: building the image with umoci...\n');
    const image = buildImage(work);
    const mb = (n) => `${(n / 1048576).toFixed(1)} MB`;
    console.log(`image: 3 layers, ${image.files} entries, ${mb(image.bytes)} of file data, ${mb(image.stored)} of blobs (gzip)`);

    const tools = {
      'ocirun unpack': (out) => [OCIRUN, ['unpack', '--quiet', `${image.img}:${TAG}`, out]],
      'umoci unpack': (out) => ['umoci', ['--log', 'error', 'unpack', '--image', `${image.img}:${TAG}`, out]],
      'umoci raw unpack': (out) => ['umoci', ['--log', 'error', 'raw', 'unpack', '--image', `${image.img}:${TAG}`, out]],
    };
    const names = Object.keys(tools);
    const results = Object.fromEntries(names.map((n) => [n, { wall: [], cpu: [] }]));
    let k = 0;
    const once = (name) => {
      const out = join(work, `out-${k++}`);
      const [cmd, args] = tools[name](out);
      const cpu0 = childCpu();
      const t0 = process.hrtime.bigint();
      run(cmd, args);
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      return { wall, cpu: childCpu() - cpu0, out };
    };
    // Warm-up (page cache, binaries) and a sanity check that both made the same tree size.
    const sizes = names.map((n) => tree(join(once(n).out, n === 'umoci raw unpack' ? '' : 'rootfs')).files);
    if (new Set(sizes).size !== 1) throw new Error(`the tools unpacked different trees (entries: ${sizes.join(', ')})`);

    for (let i = 0; i < o.runs && !interrupted; i++) {
      const order = i % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const r = once(name);
        results[name].wall.push(r.wall);
        results[name].cpu.push(r.cpu);
      }
      process.stderr.write(`bench/unpack: run ${i + 1}/${o.runs}\n`);
    }
    if (interrupted) throw new Error('interrupted');

    console.log(`\n${o.runs} runs each, alternating order (wall seconds; cpu = user+sys of the process):`);
    console.log(`${'tool'.padEnd(18)} ${'median'.padStart(8)} ${'min'.padStart(8)} ${'max'.padStart(8)} ${'cpu med'.padStart(8)}`);
    for (const name of names) {
      const { wall, cpu } = results[name];
      const f = (x) => x.toFixed(3).padStart(8);
      console.log(`${name.padEnd(18)} ${f(median(wall))} ${f(Math.min(...wall))} ${f(Math.max(...wall))} ${f(median(cpu))}`);
    }
    const ours = median(results['ocirun unpack'].wall);
    const ratio = (name) => (ours / median(results[name].wall)).toFixed(2);
    console.log(`\nratio ocirun/umoci unpack (median wall): ${ratio('umoci unpack')}  (< 1 means ocirun is faster)`);
    console.log(`ratio ocirun/umoci raw unpack (median wall): ${ratio('umoci raw unpack')}`);
  } finally {
    cleanup();
  }
}

main().catch((err) => {
  console.error(`bench/unpack: ${err.message}`);
  process.exitCode = 1;
});
