#!/usr/bin/env node
// The engine path: ocirun's CLI (the native front end and its warm daemon)
// against runc, call by call, as engines make them: create, state, start,
// exec, kill, delete, run (runc's own default spec with /bin/true) and
// --version. Wall time is the median per call; CPU per call is the mean of
// the caller's children (front end or runc, and what they reaped) plus, for
// ocirun, the daemon's own CPU over the same calls: what an engine's host
// pays. Also the cold call (the one that starts the daemon) and the daemon's
// idle RSS. State roots on tmpfs.
// Then the engines themselves, ocirun against runc as their runtime, in the
// same run: `podman run --rm IMAGE true` (the podman tests' private podman,
// test/e2e/engines.ts, image imported locally) and a pod start through
// containerd's CRI (bench/cri-pod-start.mjs). Their CPU is by cgroup: the
// client, conmon or containerd and its shims, every runtime call, the
// container, and ocirun's daemon.
//   node bench/engine.mjs [--n 30] [--pods 10]
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { criPodStarts } from './cri-pod-start.mjs';
import {
  OCIRUN, accountingCgroup, benchDir, cgroupCpuNs, engineDaemonPids, inCgroup, loadTs, processCpuNs, runcSpecBundle, which, checkInterrupted, describeFailure, exec, findRunc, fmtKiB, fmtMs, median, parseIntFlags, ratio, requireRoot, vmRssKiB,
} from './common.mjs';

requireRoot();
const { n, pods } = parseIntFlags(process.argv.slice(2), { n: 30, pods: 10 }, 'node bench/engine.mjs [--n N] [--pods N]');
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

const env = await benchDir(['sleep', '600']);
const runBundle = runcSpecBundle(env, runc, ['/bin/true']);
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
} finally {
  for (const rt of runtimes) {
    const root = env.rootOf(rt.name);
    try {
      for (const id of readdirSync(root).filter((x) => !x.startsWith('@'))) spawnSync(rt.cmd, ['--root', root, 'delete', '--force', id]);
    } catch {}
  }
  await env.remove();
}

/** `podman run --rm IMAGE true`, `pods` times per runtime (after two warm-up runs), alternating. */
async function podmanRuns() {
  if (!which('podman') || !which('conmon')) return null;
  const ts = await loadTs('/test/e2e/engines.ts');
  const { PodmanEnv, runtimes: e2eRuntimes } = ts.mods[0];
  const rts = e2eRuntimes();
  const envs = [];
  // The bench itself (so podman, and conmon until podman moves it to
  // libpod_parent) in a cgroup of ours; the containers go to libpod_parent.
  const acct = accountingCgroup(`ocirun-bench-podman-${process.pid}`);
  const out = { names: rts.map((r) => r.name), wall: {}, cpu: {} };
  try {
    for (const rt of rts) envs.push(await PodmanEnv.create(rt));
    acct.enter(process.pid);
    for (const [k, p] of envs.entries()) {
      const name = rts[k].name;
      out.wall[name] = [];
      out.cpu[name] = [];
      const cgroups = [acct.rel, '/libpod_parent'];
      const selfNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
      p.cpuNs = () => cgroups.reduce((a, g) => a + cgroupCpuNs(g), 0) - selfNs()
        + engineDaemonPids(join(p.dir, 'runtime-state')).filter((pid) => !cgroups.some((g) => inCgroup(pid, g))).reduce((a, pid) => a + processCpuNs(pid), 0);
    }
    const once = (p) => {
      const c0 = p.cpuNs();
      const t0 = process.hrtime.bigint();
      const r = p.podman(['run', '--rm', p.image, 'true']);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`podman run --rm with ${p.runtime.name}: exit ${r.status}: ${r.stderr.trim()}`);
      return { ms, cpuMs: (p.cpuNs() - c0) / 1e6 };
    };
    for (const p of envs) for (let i = 0; i < 2; i++) once(p);
    for (let i = 0; i < pods; i++) {
      checkInterrupted();
      for (const p of i % 2 ? [...envs].reverse() : envs) {
        const r = once(p);
        out.wall[p.runtime.name].push(r.ms);
        out.cpu[p.runtime.name].push(r.cpuMs);
      }
    }
  } finally {
    acct.remove();
    for (const p of envs) p.destroy();
    await ts.close();
  }
  return out;
}

function printEngineRows(title, r) {
  if (!r) {
    console.log(`${title}: not measured (the engine is not installed)`);
    return;
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cells = r.names.map((h) => ({ wall: median(r.wall[h]), cpu: mean(r.cpu[h]) }));
  const line = cells.map((c) => fmtMs(c.wall).padStart(16) + fmtMs(c.cpu).padStart(14)).join('');
  const ratios = cells.length > 1 ? `   ${ratio(cells[0].wall, cells[1].wall).padStart(9)}  ${ratio(cells[0].cpu, cells[1].cpu).padStart(8)}` : '';
  console.log(`${title.padEnd(14)}${line}${ratios}`);
}

checkInterrupted();
const podman = await podmanRuns();
checkInterrupted();
const cri = await criPodStarts(pods);
console.log(`\nengines, ${pods} runs of each, alternating: wall = median, CPU = mean (client, engine daemons, runtime calls, container, ocirun's daemon)`);
console.log(`${'call'.padEnd(14)}${runtimes.map((r) => `${r.name} wall`.padStart(16) + `${r.name} CPU`.padStart(14)).join('')}${runc ? '   wall ratio  CPU ratio' : ''}`);
printEngineRows('podman run', podman);
printEngineRows('CRI pod start', cri && { names: cri.handlers, wall: cri.wall, cpu: cri.cpu });
