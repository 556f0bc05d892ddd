#!/usr/bin/env node
// The engine path: ocirun's CLI (the native front end and its warm daemon)
// against runc, call by call, as engines make them: create, state, start,
// exec, kill, delete, run (runc's own default spec with /bin/true) and
// --version. Wall time is the median per call; CPU per call is the mean of
// the caller's children (front end or runc, and what they reaped) plus, for
// ocirun, the daemon's own CPU over the same calls: what an engine's host
// pays. Also the cold call (the one that starts the daemon) and the daemon's
// idle RSS. State roots on tmpfs.
//   node bench/engine.mjs [--n 30]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  OCIRUN, benchDir, checkInterrupted, describeFailure, exec, findRunc, fmtKiB, fmtMs, median, parseIntFlags, ratio, requireRoot, vmRssKiB,
} from './common.mjs';

requireRoot();
const { n } = parseIntFlags(process.argv.slice(2), { n: 30 }, 'node bench/engine.mjs [--n N]');
const runc = findRunc();
const TICK_MS = 1000 / 100;

const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
};
const daemonPid = (root) => {
  const dir = join(root, '@engine');
  try {
    const f = readdirSync(dir).find((x) => x.endsWith('.pid'));
    return f ? Number(readFileSync(join(dir, f), 'utf8')) : undefined;
  } catch {
    return undefined;
  }
};

/** runc's `spec`, made to run /bin/true on the bench's busybox rootfs. */
function runcDefaultBundle(dir, rootfs) {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(runc ?? 'runc', ['spec'], { cwd: dir });
  if (r.status !== 0) throw new Error(`runc spec: ${r.stderr}`);
  const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  spec.process.args = ['/bin/true'];
  spec.process.terminal = false;
  spec.root = { path: rootfs, readonly: true };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
  return dir;
}

const env = await benchDir(['sleep', '600']);
const runBundle = runcDefaultBundle(join(env.dir, 'runc-spec'), join(env.bundle, 'rootfs'));
const runtimes = [{ name: 'ocirun', cmd: OCIRUN }, ...(runc ? [{ name: 'runc', cmd: runc }] : [])];
const OPS = ['create', 'state', 'start', 'exec', 'kill', 'delete', 'run', '--version'];
const results = {};

async function call(rt, args) {
  const r = await exec(rt.cmd, ['--root', env.rootOf(rt.name), ...args], env.log);
  if (r.code !== 0 && args[0] !== 'kill') throw new Error(`${rt.name} ${args.join(' ')}: ${describeFailure(r)}`);
  return r.ms;
}

try {
  // The cold call: no daemon yet, so this one starts it.
  const t0 = process.hrtime.bigint();
  await call(runtimes[0], ['list', '-q']);
  const coldMs = Number(process.hrtime.bigint() - t0) / 1e6;
  for (const rt of runtimes) {
    results[rt.name] = Object.fromEntries(OPS.map((op) => [op, { wall: [], cpuTicks: 0 }]));
    // Warm-up, not measured.
    for (let i = 0; i < 3; i++) await call(rt, ['state', 'nope']).catch(() => {});
  }
  for (let i = 0; i < n; i++) {
    checkInterrupted();
    for (const rt of runtimes) {
      const id = `b${i}`;
      const steps = [
        ['create', ['create', '--bundle', env.bundle, id]],
        ['state', ['state', id]],
        ['start', ['start', id]],
        ['exec', ['exec', id, 'true']],
        ['kill', ['kill', id, 'KILL']],
        ['delete', ['delete', '--force', id]],
        ['run', ['run', '--bundle', runBundle, `r${i}`]],
        ['--version', ['--version']],
      ];
      for (const [op, args] of steps) {
        const d = rt.name === 'ocirun' ? daemonPid(env.rootOf(rt.name)) : undefined;
        const before = { me: ticks(process.pid), d: d ? ticks(d).self : 0 };
        const ms = await call(rt, args);
        const after = { me: ticks(process.pid), d: d ? ticks(d).self : 0 };
        results[rt.name][op].wall.push(ms);
        results[rt.name][op].cpuTicks += after.me.children - before.me.children + (after.d - before.d);
      }
    }
  }
  console.log(`engine path: ${n} calls of each, warm daemon; wall = median, CPU = mean (caller + daemon), state on ${env.state}`);
  console.log(`${'call'.padEnd(10)}${runtimes.map((r) => `${r.name} wall`.padStart(16) + `${r.name} CPU`.padStart(14)).join('')}${runc ? '   wall ratio  CPU ratio' : ''}`);
  for (const op of OPS) {
    const cells = runtimes.map((rt) => {
      const r = results[rt.name][op];
      return { wall: median(r.wall), cpu: (r.cpuTicks * TICK_MS) / n };
    });
    const line = cells.map((c) => fmtMs(c.wall).padStart(16) + fmtMs(c.cpu).padStart(14)).join('');
    const ratios = runc ? `   ${ratio(cells[0].wall, cells[1].wall).padStart(9)}  ${ratio(cells[0].cpu, Math.max(cells[1].cpu, 0.01)).padStart(8)}` : '';
    console.log(`${op.padEnd(10)}${line}${ratios}`);
  }
  const d = daemonPid(env.rootOf('ocirun'));
  await new Promise((r) => setTimeout(r, 1000));
  console.log(`cold call (starts the daemon): ${fmtMs(coldMs).trim()}; daemon idle RSS: ${d ? fmtKiB(vmRssKiB(d)) : 'no daemon'}`);
  console.log('not measured here: podman run --rm and a CRI pod start (the e2e engine harnesses are TypeScript; see docs/performance.md)');
} finally {
  for (const rt of runtimes) {
    const root = env.rootOf(rt.name);
    try {
      for (const id of readdirSync(root).filter((x) => !x.startsWith('@'))) spawnSync(rt.cmd, ['--root', root, 'delete', '--force', id]);
    } catch {}
  }
  await env.remove();
}
