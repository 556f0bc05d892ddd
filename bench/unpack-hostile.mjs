#!/usr/bin/env node
// Hostile-layer benchmark: time and peak memory of `ocirun unpack` against
// `umoci unpack` on layers built to exhaust an unpacker:
//
//   deep    one file 1,000 directories down (PATH_MAX allows about 2,000)
//   chain   10,000 chained symlinks, then an entry written through the chain
//   wide    100,000 files in one directory
//
//   node bench/unpack-hostile.mjs [--runs N]
//
// Each layer is a tar made by GNU tar from a tree on disk, in a one-layer OCI
// layout. For each tool: whether it unpacked or refused, median wall time, and
// the peak RSS (GNU time's %M) — the bound the unit tests cannot assert. The
// ratios are ocirun/umoci. The work dir is removed at the end, also on Ctrl-C.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fail, median, OCIRUN, parseIntFlags, repo, requireRoot, which } from './common.mjs';

const o = parseIntFlags(process.argv.slice(2), { runs: 1 }, 'usage: node bench/unpack-hostile.mjs [--runs N]');
requireRoot();
if (!which('umoci')) fail('umoci is not installed (apt-get install umoci)');

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
  return r;
}

function blob(dir, data) {
  const hex = createHash('sha256').update(data).digest('hex');
  writeFileSync(join(dir, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** A one-layer OCI layout at `dir`, tagged "bench", from an uncompressed tar. */
function layout(dir, tar) {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const layer = blob(dir, gzipSync(tar));
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const config = blob(dir, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } })));
  const manifest = blob(dir, Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
  })));
  writeFileSync(join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
  }));
}

const tarOf = (dir, extra = []) => sh('tar', ['-C', dir, '--numeric-owner', '-cf', '-', '.', ...extra], { encoding: 'buffer' }).stdout;

function build(work) {
  const images = {};
  // deep: 1,000 levels, a directory entry for each (GNU tar's way): the time
  // grows with the square of the depth (every entry's path is walked), in
  // umoci as in ocirun; PATH_MAX caps the depth at about 2,000.
  const deep = join(work, 'src-deep');
  const d = join(deep, ...Array(1000).fill('a'));
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'f'), 'deep\n');
  images.deep = join(work, 'img-deep');
  layout(images.deep, tarOf(deep));

  // chain: l0 -> l1 -> ... -> l9999 -> end, then "l0/x" appended as an entry of its own.
  const chain = join(work, 'src-chain');
  mkdirSync(join(chain, 'end'), { recursive: true });
  for (let i = 0; i < 10_000; i++) symlinkSync(i === 9999 ? 'end' : `l${i + 1}`, join(chain, `l${i}`));
  const through = join(work, 'src-through');
  mkdirSync(join(through, 'l0'), { recursive: true });
  writeFileSync(join(through, 'l0', 'x'), 'x\n');
  const chainTar = tarOf(chain);
  // Drop the end-of-archive blocks and append the entry "l0/x" alone (no "l0/" directory entry).
  const xTar = sh('tar', ['-C', through, '--numeric-owner', '--no-recursion', '-cf', '-', 'l0/x'], { encoding: 'buffer' }).stdout;
  images.chain = join(work, 'img-chain');
  layout(images.chain, Buffer.concat([stripTrailer(chainTar), xTar]));

  // wide: 100,000 empty files in one directory.
  const wide = join(work, 'src-wide');
  mkdirSync(join(wide, 'd'), { recursive: true });
  for (let i = 0; i < 100_000; i++) writeFileSync(join(wide, 'd', `f${i}`), '');
  images.wide = join(work, 'img-wide');
  layout(images.wide, tarOf(wide));
  for (const src of [chain, through, wide]) rmSync(src, { recursive: true, force: true });
  sh('rm', ['-rf', deep]);
  return images;
}

/** A tar without its zero blocks at the end, so another archive can follow. */
function stripTrailer(tar) {
  let end = tar.length;
  while (end >= 512 && tar.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
  return tar.subarray(0, end);
}

/** Wall seconds and peak RSS (KiB) of one run, from GNU time; ok = exit status 0. */
function measure(cmd, args) {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const m = /BENCH ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`no measurement from ${cmd}: ${r.stderr.trim()}`);
  const why = r.stderr.slice(0, m.index).trim().split('\n').filter((l) => !l.startsWith('Command exited')).pop() ?? '';
  return { ok: r.status === 0, wall: Number(m[1]), rssKiB: Number(m[2]), why };
}

const work = mkdtempSync(join(repo, '.bench-unpack-hostile-'));
const cleanup = () => sh('rm', ['-rf', work]);
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  process.stderr.write('bench/unpack-hostile: building the layers...\n');
  const images = build(work);
  const tools = {
    ocirun: (img, out) => [OCIRUN, ['unpack', '--quiet', `${img}:bench`, out]],
    umoci: (img, out) => ['umoci', ['--log', 'error', 'unpack', '--image', `${img}:bench`, out]],
  };
  let k = 0;
  console.log(`${o.runs} runs each (wall seconds, peak RSS):`);
  console.log(`${'layer'.padEnd(7)} ${'tool'.padEnd(7)} ${'result'.padEnd(9)} ${'median s'.padStart(9)} ${'peak RSS'.padStart(10)}  note`);
  for (const [name, img] of Object.entries(images)) {
    const res = {};
    for (const [tool, argv] of Object.entries(tools)) {
      const runs = [];
      for (let i = 0; i < o.runs; i++) {
        const out = join(work, `out-${k++}`);
        runs.push(measure(...argv(img, out)));
        sh('rm', ['-rf', out]);
      }
      const r = { ok: runs[0].ok, wall: median(runs.map((x) => x.wall)), rss: Math.max(...runs.map((x) => x.rssKiB)), why: runs[0].why };
      res[tool] = r;
      const note = r.ok ? '' : r.why.slice(0, 70);
      console.log(`${name.padEnd(7)} ${tool.padEnd(7)} ${(r.ok ? 'unpacked' : 'refused').padEnd(9)} ${r.wall.toFixed(2).padStart(9)} ${`${(r.rss / 1024).toFixed(0)} MiB`.padStart(10)}  ${note}`);
    }
    console.log(`${name.padEnd(7)} ratio ocirun/umoci: wall ${(res.ocirun.wall / Math.max(res.umoci.wall, 0.01)).toFixed(2)}x, peak RSS ${(res.ocirun.rss / res.umoci.rss).toFixed(2)}x`);
  }
} finally {
  cleanup();
}

