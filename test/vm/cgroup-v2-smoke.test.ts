// The VM harness itself (test/vm, docs/testing-vm.md): one boot proves that the
// guest has pure cgroup v2 with its controllers enabled, that limits can be
// written and read back, that a process can be moved into a cgroup, that the
// repo is visible at the caller's cwd and that Node runs inside.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runInVm } from './run.mjs';

const SCRIPT = String.raw`
set -eu
cg=/sys/fs/cgroup
echo "fstype=$(stat -f -c %T $cg)"
echo "v1mounts=$(grep -c ' cgroup ' /proc/mounts || true)"
echo "controllers=$(cat $cg/cgroup.controllers)"
echo "subtree=$(cat $cg/cgroup.subtree_control)"
echo "pwd=$(pwd)"
echo "hostname=$(hostname)"
echo "uid=$(id -u)"
echo "invm=$(printenv OCIRUN_TEST_VM || true)"
test=$cg/ocirun-vm-smoke
mkdir $test
echo 50M > $test/memory.max
echo 5 > $test/pids.max
echo "memory.max=$(cat $test/memory.max)"
echo "pids.max=$(cat $test/pids.max)"
sleep 600 &
pid=$!
echo $pid > $test/cgroup.procs
echo "sleeper=$pid"
echo "procs=$(cat $test/cgroup.procs)"
echo "proc.cgroup=$(cat /proc/$pid/cgroup)"
echo "pids.current=$(cat $test/pids.current)"
kill $pid
wait $pid || true
rmdir $test
echo "node=$(node -e 'console.log(process.version)')"
echo "write=$(touch /usr/ocirun-vm-write-test && echo ok)"
`;

function parse(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

describe('test VM (pure cgroup v2)', () => {
  // Not when this suite itself runs inside the VM: the harness does not nest.
  it.skipIf(!!process.env.OCIRUN_TEST_VM)('boots with cgroup2 and all controllers, limits work, node runs', { timeout: 300_000 }, async () => {
    const r = await runInVm(['sh', '-c', SCRIPT], { timeout: 240 });
    const ctx = `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}\ntimings: ${JSON.stringify(r.timings)}`;
    expect(r.timedOut, ctx).toBe(false);
    expect(r.status, ctx).toBe(0);
    const v = parse(r.stdout);
    expect(v.fstype, ctx).toBe('cgroup2fs');
    expect(v.v1mounts, ctx).toBe('0');
    const controllers = v.controllers.split(' ');
    for (const c of ['cpu', 'cpuset', 'io', 'memory', 'pids']) expect(controllers, ctx).toContain(c);
    expect(v.subtree.split(' ').sort(), ctx).toEqual([...controllers].sort());
    expect(v.pwd, ctx).toBe(process.cwd());
    expect(v.hostname).toBe('ocirun-vm');
    expect(v.uid).toBe('0');
    expect(v.invm).toBe('1');
    expect(v['memory.max'], ctx).toBe(String(50 * 1024 * 1024));
    expect(v['pids.max'], ctx).toBe('5');
    expect(v.procs, ctx).toBe(v.sleeper);
    expect(v['proc.cgroup'], ctx).toBe('0::/ocirun-vm-smoke');
    expect(v['pids.current'], ctx).toBe('1');
    expect(v.node, ctx).toBe(process.version);
    // The guest's writes stay in the VM's overlay.
    expect(v.write, ctx).toBe('ok');
    expect(existsSync('/usr/ocirun-vm-write-test')).toBe(false);
  });
});
