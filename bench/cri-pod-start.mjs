#!/usr/bin/env node
// Pod start latency through Kubernetes' CRI: RunPodSandbox + CreateContainer +
// StartContainer, until the container's process has written its first line,
// as the kubelet would see it. One private containerd (the CRI tests' harness,
// test/e2e/cri/harness.ts) serves the `ocirun` and `runc` handlers; pods
// alternate between them so both see the same machine, and the ratio is
// printed. Removing each pod is not timed.
//
//   node bench/cri-pod-start.mjs [--runs 10]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'vite';
import { fail, parseIntFlags, repo, requireRoot } from './common.mjs';

const opts = parseIntFlags(process.argv.slice(2), { runs: 10 }, 'usage: node bench/cri-pod-start.mjs [--runs N]');
requireRoot();

// The harness is TypeScript (shared with the tests): vite, which vitest brings, loads it.
const vite = await createServer({
  root: repo, configFile: false, logLevel: 'error', appType: 'custom',
  server: { middlewareMode: true, hmr: false, watch: null }, optimizeDeps: { noDiscovery: true, include: [] },
});
const { CriEnv, HANDLERS, BUSYBOX_IMAGE, criEnabled } = await vite.ssrLoadModule('/test/e2e/cri/harness.ts');
if (!criEnabled) fail('needs containerd, ctr, containerd-shim-runc-v2, gcc and containernetworking-plugins');
if (!HANDLERS.includes('runc')) console.log('runc: not installed; printing ocirun figures only');

const env = await CriEnv.create();
const times = Object.fromEntries(HANDLERS.map((h) => [h, []]));

async function podStart(handler, n) {
  const t0 = process.hrtime.bigint();
  const pod = await env.runPod(handler, `bench-${n}`);
  const config = { metadata: { name: 'main', attempt: 0 }, image: { image: BUSYBOX_IMAGE }, command: ['sh', '-c', 'echo up; exec sleep 1000'], log_path: 'main.log', linux: {} };
  const { container_id: id } = await env.call('CreateContainer', { pod_sandbox_id: pod.id, config, sandbox_config: pod.config });
  await env.call('StartContainer', { container_id: id });
  const log = join(pod.config.log_directory, 'main.log');
  while (!(existsSync(log) && readFileSync(log, 'utf8').includes(' up\n'))) await new Promise((r) => setTimeout(r, 1));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await env.removePod(pod.id);
  return ms;
}

try {
  for (const h of HANDLERS) await podStart(h, `warm-${h}`);  // image unpacked, caches warm
  for (let i = 0; i < opts.runs; i++) {
    for (const h of i % 2 ? [...HANDLERS].reverse() : HANDLERS) times[h].push(await podStart(h, `${h}-${i}`));
  }
} finally {
  await env.destroy();
  await vite.close();
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log(`pod start through CRI (RunPodSandbox + CreateContainer + StartContainer until the process runs), ${opts.runs} pods each`);
for (const h of HANDLERS) {
  console.log(`  ${h.padEnd(7)} median ${median(times[h]).toFixed(0).padStart(5)} ms   mean ${mean(times[h]).toFixed(0).padStart(5)} ms   min ${Math.min(...times[h]).toFixed(0).padStart(5)} ms`);
}
if (times.runc) console.log(`  ocirun/runc: median ${(median(times.ocirun) / median(times.runc)).toFixed(2)}x   mean ${(mean(times.ocirun) / mean(times.runc)).toFixed(2)}x`);
