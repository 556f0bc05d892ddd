#!/usr/bin/env node
// Scale: N containers (default 200) created and all waiting at once, then
// started and deleted; ocirun's Runtime API in this process against runc's CLI
// spawned from it, 8 operations in flight for both. Prints the time of each
// stage, the memory of the waiting containers and of this agent, and checks
// that nothing leaked: state dirs, host mounts, fds of this process, zombies,
// network namespaces, container processes.
//
//   node bench/scale.mjs [--containers N] [--parallel P]
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import {
  benchDir, checkInterrupted, exec, findRunc, fmtKiB, hostMounts, loadLibrary, mustExec, openFds, parseIntFlags,
  pool, ratio, requireRoot, vmRssKiB, zombieChildren, cleanUp,
} from './common.mjs';

const USAGE = 'usage: node bench/scale.mjs [--containers N] [--parallel P]';

function pssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+)\s+kB/m);
  return m ? Number(m[1]) : 0;
}

function memoryOf(pids) {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    rss += vmRssKiB(pid);
    pss += pssKiB(pid);
  }
  return { rss, pss };
}

function snapshot() {
  return { mounts: hostMounts(), fds: openFds(), zombies: zombieChildren().length };
}

/**
 * The network (and pid) namespaces of the waiting containers, to look for
 * afterwards. Namespace inode numbers are reused once freed, so a process only
 * counts as holding one of ours if it is in one of our pid namespaces too.
 */
function netnsOf(pids) {
  return {
    net: new Set(pids.map((pid) => readlinkSync(`/proc/${pid}/ns/net`))),
    pid: new Set(pids.map((pid) => readlinkSync(`/proc/${pid}/ns/pid`))),
  };
}

function leaks(before, root, netns) {
  const after = snapshot();
  let dirs = [];
  try {
    dirs = readdirSync(root);
  } catch {}
  const out = {
    'state dirs': dirs.length,
    'host mounts': after.mounts - before.mounts,
    'agent fds': after.fds - before.fds,
    zombies: after.zombies - before.zombies,
    'network namespaces': liveNamespaces(netns),
  };
  const bad = Object.entries(out).filter(([, v]) => v !== 0);
  return { text: Object.entries(out).map(([k, v]) => `${k} ${v > 0 && k !== 'state dirs' ? '+' : ''}${v}`).join(', '), ok: bad.length === 0 };
}

/** How many of our network namespaces some process still holds or some mount still pins. */
function liveNamespaces(ns) {
  const live = new Set();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const net = readlinkSync(`/proc/${name}/ns/net`);
      if (ns.net.has(net) && ns.pid.has(readlinkSync(`/proc/${name}/ns/pid`))) live.add(net);
    } catch {}
  }
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const net of ns.net) if (mountinfo.includes(` ${net} `)) live.add(net);
  return live.size;
}

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;

async function main() {
  const opts = parseIntFlags(process.argv.slice(2), { containers: 200, parallel: 8 }, USAGE);
  requireRoot();
  const { Runtime } = await loadLibrary();
  const runc = findRunc();
  const env = await benchDir(['/bin/true']);
  const devnull = openSync('/dev/null', 'r+');
  const N = opts.containers;
  const ids = Array.from({ length: N }, (_, i) => `scale-${i}`);
  const rt = new Runtime({ root: env.rootOf('ocirun') });
  const results = {};
  let failed = false;
  try {
    console.log(`scale: ${N} containers of /bin/true created and waiting at once, then started and deleted (${opts.parallel} operations in flight)`);
    // --- ocirun, through the API -------------------------------------------
    {
      // One container first, so the exit watcher thread and its fds exist before the baseline.
      await rt.run('scale-warm', env.bundle, { stdio: [devnull, devnull, devnull] });
      const before = snapshot();
      const rss0 = vmRssKiB();
      const t0 = performance.now();
      const pids = [];
      await pool(N, opts.parallel, async (i) => {
        pids.push((await rt.create(ids[i], env.bundle, { stdio: [devnull, devnull, devnull] })).pid);
      });
      const t1 = performance.now();
      const mem = memoryOf(pids);
      const netns = netnsOf(pids);
      const agentRss = vmRssKiB();
      await pool(N, opts.parallel, (i) => rt.start(ids[i]));
      const statuses = await Promise.all(ids.map((id) => rt.wait(id)));
      const t2 = performance.now();
      await pool(N, opts.parallel, (i) => rt.delete(ids[i]));
      const t3 = performance.now();
      const bad = statuses.filter((st) => st.exitCode !== 0).length;
      if (bad > 0) throw new Error(`ocirun: ${bad} containers did not exit 0`);
      const leak = leaks(before, env.rootOf('ocirun'), netns);
      results.ocirun = { create: t1 - t0, start: t2 - t1, del: t3 - t2, total: t3 - t0, mem };
      console.log(`  ocirun  create ${s(t1 - t0)}, start+wait ${s(t2 - t1)}, delete ${s(t3 - t2)}: total ${s(t3 - t0)}`);
      console.log(`  ocirun  ${N} waiting containers: RSS ${fmtKiB(mem.rss)} (PSS ${fmtKiB(mem.pss)}), ${fmtKiB(Math.round(mem.rss / N))} each;` +
        ` agent RSS ${fmtKiB(rss0)} before, ${fmtKiB(agentRss)} with all created`);
      console.log(`  ocirun  leaks after delete: ${leak.text} ${leak.ok ? '(none)' : '(LEAK)'}`);
      if (!leak.ok) failed = true;
    }
    // --- runc, spawned -------------------------------------------------------
    if (runc) {
      checkInterrupted();
      const root = env.rootOf('runc');
      const before = snapshot();
      const t0 = performance.now();
      const pids = [];
      await pool(N, opts.parallel, async (i) => {
        const pidFile = `${env.dir}/runc-${i}.pid`;
        await mustExec(runc, ['--root', root, 'create', '--bundle', env.bundle, '--pid-file', pidFile, ids[i]], `${env.log}.${i}`);
        pids.push(Number(readFileSync(pidFile, 'utf8')));
      });
      const t1 = performance.now();
      const mem = memoryOf(pids);
      const netns = netnsOf(pids);
      await pool(N, opts.parallel, (i) => mustExec(runc, ['--root', root, 'start', ids[i]], `${env.log}.${i}`));
      const t2 = performance.now();
      // runc has no wait; delete --force kills whatever has not exited yet.
      await pool(N, opts.parallel, (i) => mustExec(runc, ['--root', root, 'delete', '--force', ids[i]], `${env.log}.${i}`));
      const t3 = performance.now();
      const leak = leaks(before, root, netns);
      results.runc = { create: t1 - t0, start: t2 - t1, del: t3 - t2, total: t3 - t0, mem };
      console.log(`  runc    create ${s(t1 - t0)}, start ${s(t2 - t1)}, delete --force ${s(t3 - t2)}: total ${s(t3 - t0)}`);
      console.log(`  runc    ${N} waiting containers: RSS ${fmtKiB(mem.rss)} (PSS ${fmtKiB(mem.pss)}), ${fmtKiB(Math.round(mem.rss / N))} each`);
      console.log(`  runc    leaks after delete: ${leak.text} ${leak.ok ? '(none)' : '(LEAK)'}`);
      const o = results.ocirun;
      const r = results.runc;
      console.log(`  ratio ocirun/runc: total time ${ratio(o.total, r.total)}, create ${ratio(o.create, r.create)},` +
        ` waiting RSS ${ratio(o.mem.rss, r.mem.rss)}, PSS ${ratio(o.mem.pss, r.mem.pss)}`);
    }
  } catch (err) {
    console.log(`  failed: ${err.message}`);
    failed = true;
  } finally {
    closeSync(devnull);
    await cleanUp({ rt, runc, env });
  }
  return failed ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(`bench: ${err?.message ?? err}`); process.exitCode = 1; });
