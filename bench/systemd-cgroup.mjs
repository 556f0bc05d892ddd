#!/usr/bin/env node
// What the systemd cgroup driver adds to a create: `create` then `delete` of
// `sleep 60` in the default busybox bundle, with the cgroupfs driver and with
// --systemd-cgroup (a transient scope through D-Bus, waited for), ocirun and
// runc alternately in the same run. Prints medians and the ratios
// systemd/cgroupfs per runtime and ocirun/runc per driver.
//
//   node bench/systemd-cgroup.mjs [--runs N]
//
// Needs systemd as PID 1 on a cgroup v2 host: elsewhere (this project's
// development machines) it boots the test VM with systemd (test/vm/run.mjs
// --systemd) and runs itself there. Take both locks around it
// (docs/performance.md): flock /tmp/ocirun-vm.lock flock /tmp/ocirun-roottests.lock ...
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  OCIRUN, benchDir, checkInterrupted, describeFailure, exec, fmtMs, median, parseIntFlags, percentile, ratio, requireRoot, which,
} from './common.mjs';

const USAGE = 'usage: node bench/systemd-cgroup.mjs [--runs N]';
const opts = parseIntFlags(process.argv.slice(2), { runs: 10 }, USAGE);

const systemdHere = (() => {
  try {
    return statSync('/run/systemd/system').isDirectory() && existsSync('/sys/fs/cgroup/cgroup.controllers');
  } catch {
    return false;
  }
})();

async function inVm() {
  const { runInVm } = await import('../test/vm/run.mjs');
  console.log('systemd-cgroup: systemd is not PID 1 here; running in the test VM (systemd as PID 1, cgroup v2)');
  const r = await runInVm([process.execPath, fileURLToPath(import.meta.url), `--runs=${opts.runs}`], {
    systemd: true, timeout: 1500, stdout: process.stdout, stderr: process.stderr,
  });
  return r.status ?? 1;
}

async function main() {
  requireRoot();
  if (!systemdHere) return process.env.OCIRUN_TEST_VM ? (console.error('bench: no systemd in the VM'), 1) : inVm();
  const runc = which('runc');
  const runtimes = [{ name: 'ocirun', cmd: OCIRUN }, ...(runc ? [{ name: 'runc', cmd: runc }] : [])];
  if (!runc) console.log('runc: not installed; ocirun figures only');
  const drivers = [{ name: 'cgroupfs', flags: [] }, { name: 'systemd', flags: ['--systemd-cgroup'] }];
  const d = await benchDir(['sleep', '60']);
  const cells = [];
  for (const rt of runtimes) for (const dr of drivers) cells.push({ rt, dr, create: [], del: [], root: d.rootOf(`${rt.name}-${dr.name}`) });
  let failed = false;
  try {
    console.log(`systemd-cgroup: create + delete of "sleep 60", ${opts.runs} runs per runtime and driver (after 1 warm-up), alternating`);
    for (let i = -1; i < opts.runs && !failed; i++) {
      for (const c of cells) {
        checkInterrupted();
        const id = `sd-${c.dr.name}-${i < 0 ? 'warm' : i}`;
        const cr = await exec(c.rt.cmd, [...c.dr.flags, '--root', c.root, 'create', '--bundle', d.bundle, id], d.log);
        const de = await exec(c.rt.cmd, [...c.dr.flags, '--root', c.root, 'delete', '--force', id], d.log);
        if (cr.code !== 0 || de.code !== 0) {
          console.log(`  ${c.rt.name} ${c.dr.name}: ${describeFailure(cr.code !== 0 ? cr : de)}`);
          failed = true;
          break;
        }
        if (i >= 0) {
          c.create.push(cr.ms);
          c.del.push(de.ms);
        }
      }
    }
    if (failed) return 1;
    for (const c of cells) {
      console.log(`  ${c.rt.name.padEnd(7)} ${c.dr.name.padEnd(9)} create median ${fmtMs(median(c.create))} p90 ${fmtMs(percentile(c.create, 90))}   delete median ${fmtMs(median(c.del))}`);
    }
    const cell = (rt, dr) => cells.find((c) => c.rt.name === rt && c.dr.name === dr);
    for (const rt of runtimes) {
      const fs = cell(rt.name, 'cgroupfs');
      const sd = cell(rt.name, 'systemd');
      console.log(`  ${rt.name}: systemd/cgroupfs create ${ratio(median(sd.create), median(fs.create))} (+${(median(sd.create) - median(fs.create)).toFixed(1)} ms), delete ${ratio(median(sd.del), median(fs.del))}`);
    }
    if (runc) {
      for (const dr of drivers) {
        const o = cell('ocirun', dr.name);
        const r = cell('runc', dr.name);
        console.log(`  ${dr.name}: ocirun/runc create ${ratio(median(o.create), median(r.create))}, delete ${ratio(median(o.del), median(r.del))}`);
      }
    }
    return 0;
  } finally {
    for (const c of cells) {
      for (const id of [`sd-${c.dr.name}-warm`, ...Array.from({ length: opts.runs }, (_, i) => `sd-${c.dr.name}-${i}`)]) {
        if (existsSync(`${c.root}/${id}`)) await exec(c.rt.cmd, [...c.dr.flags, '--root', c.root, 'delete', '--force', id], d.log);
      }
    }
    await d.remove();
  }
}

process.exitCode = await main();
