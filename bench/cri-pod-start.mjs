#!/usr/bin/env node
// Pod start latency through Kubernetes' CRI: RunPodSandbox + CreateContainer +
// StartContainer, until the container's process has written its first line,
// as the kubelet would see it. One private containerd (the CRI tests' harness,
// test/e2e/cri/harness.ts) serves the `ocirun` and `runc` handlers; pods
// alternate between them so both see the same machine, and the ratio is
// printed. CPU per pod start is what containerd, its shims, the runtime
// calls, the pod's processes and ocirun's daemon used over the same span.
// Removing each pod is not timed.
//
// bench/engine.mjs prints these rows with the other engine calls (so
// run-all does not run this file on its own); run alone for more pods:
//   node bench/cri-pod-start.mjs [--runs 10]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { accountingCgroup, cgroupCpuNs, engineDaemonPids, fail, inCgroup, loadTs, median, parseIntFlags, processCpuNs, requireRoot } from './common.mjs';

/** The pid of the containerd serving `dir` (the harness starts it with dir/config.toml). */
function containerdPid(dir) {
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv[0].endsWith('containerd') && argv.includes(`${dir}/config.toml`)) return Number(name);
    } catch {}
  }
  throw new Error(`no containerd for ${dir}`);
}

/**
 * `runs` pod starts per handler (after one warm-up each), alternating.
 * Resolves { handlers, wall: { h: ms[] }, cpu: { h: ms[] } }, or null when
 * the host lacks what the CRI harness needs.
 */
export async function criPodStarts(runs) {
  const ts = await loadTs('/test/e2e/cri/harness.ts');
  const { CriEnv, HANDLERS, BUSYBOX_IMAGE, criEnabled } = ts.mods[0];
  if (!criEnabled) {
    await ts.close();
    return null;
  }
  const env = await CriEnv.create();
  // containerd and what it starts (CNI plugins, shims, the runtime's calls) in
  // a cgroup of ours; the pods are under env.cgroupParent; the daemon moves
  // itself to the top cgroups, so it is counted by pid.
  const acct = accountingCgroup(`ocirun-bench-cri-${process.pid}`);
  const wall = Object.fromEntries(HANDLERS.map((h) => [h, []]));
  const cpu = Object.fromEntries(HANDLERS.map((h) => [h, []]));
  const cgroups = [acct.rel, env.cgroupParent];
  const cpuNs = () => cgroups.reduce((a, g) => a + cgroupCpuNs(g), 0)
    + engineDaemonPids(join(env.dir, 'runtime-state', 'ocirun')).filter((p) => !cgroups.some((g) => inCgroup(p, g))).reduce((a, p) => a + processCpuNs(p), 0);

  async function podStart(handler, n) {
    const c0 = cpuNs();
    const t0 = process.hrtime.bigint();
    const pod = await env.runPod(handler, `bench-${n}`);
    const config = { metadata: { name: 'main', attempt: 0 }, image: { image: BUSYBOX_IMAGE }, command: ['sh', '-c', 'echo up; exec sleep 1000'], log_path: 'main.log', linux: {} };
    const { container_id: id } = await env.call('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config });
    await env.call('StartContainer', { container_id: id });
    const log = join(pod.config.log_directory, 'main.log');
    while (!(existsSync(log) && readFileSync(log, 'utf8').includes(' up\n'))) await new Promise((r) => setTimeout(r, 1));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpuMs = (cpuNs() - c0) / 1e6;
    await env.removePod(pod.id);
    return { ms, cpuMs };
  }

  try {
    acct.enter(containerdPid(env.dir));
    for (const h of HANDLERS) await podStart(h, `warm-${h}`);  // image unpacked, caches and daemon warm
    for (let i = 0; i < runs; i++) {
      for (const h of i % 2 ? [...HANDLERS].reverse() : HANDLERS) {
        const r = await podStart(h, `${h}-${i}`);
        wall[h].push(r.ms);
        cpu[h].push(r.cpuMs);
      }
    }
  } finally {
    await env.destroy();
    acct.remove();
    await ts.close();
  }
  return { handlers: HANDLERS, wall, cpu };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const opts = parseIntFlags(process.argv.slice(2), { runs: 10 }, 'usage: node bench/cri-pod-start.mjs [--runs N]');
  requireRoot();
  const r = await criPodStarts(opts.runs);
  if (!r) fail('needs containerd, ctr, containerd-shim-runc-v2, gcc and containernetworking-plugins');
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`pod start through CRI (RunPodSandbox + CreateContainer + StartContainer until the process runs), ${opts.runs} pods each`);
  for (const h of r.handlers) {
    console.log(`  ${h.padEnd(7)} median ${median(r.wall[h]).toFixed(0).padStart(5)} ms   mean ${mean(r.wall[h]).toFixed(0).padStart(5)} ms   min ${Math.min(...r.wall[h]).toFixed(0).padStart(5)} ms   CPU mean ${mean(r.cpu[h]).toFixed(0).padStart(5)} ms`);
  }
  if (r.wall.runc) console.log(`  ocirun/runc: wall median ${(median(r.wall.ocirun) / median(r.wall.runc)).toFixed(2)}x   CPU mean ${(mean(r.cpu.ocirun) / mean(r.cpu.runc)).toFixed(2)}x`);
}
