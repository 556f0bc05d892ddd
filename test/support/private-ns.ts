// Scenarios that need a cgroup layout this host does not have: a shell script
// run in a private mount namespace (unshare -m, private propagation), with
// /sys/fs/cgroup rebuilt there. The mounts die with the namespace; cgroup
// directories made in a hierarchy shared with the host do not, so every
// scenario deletes its containers and the caller checks nothing is left.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { hostLayout } from '../../src/cgroups/layout.js';
import { Harness, OCIRUN } from '../integration/harness.js';

export type RuntimeName = 'ocirun' | 'runc';

/** The runtime's command line with its own state root, as a shell word list. */
export function runtimeCommand(name: RuntimeName, root: string): string {
  return name === 'ocirun' ? `${process.execPath} ${OCIRUN} --root ${root}` : `runc --root ${root}`;
}

/** Shell lines that cover /sys/fs/cgroup with a tmpfs holding this host's v1 hierarchies again (same hierarchies) and `extra` ones. */
export function rebuildV1Layout(extra: string[]): string {
  const lines = ['mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup'];
  for (const h of hostLayout().hierarchies) {
    const dir = `/sys/fs/cgroup/${h.name}`;
    const opts = h.version === 2 ? '' : `-o ${h.controllers.map((c) => (c.startsWith('name=') ? `none,${c}` : c)).join(',')}`;
    lines.push(`mkdir -p '${dir}'`, `mount -t ${h.version === 2 ? 'cgroup2' : 'cgroup'} ${opts} cgroup '${dir}'`);
  }
  for (const controllers of extra) {
    lines.push(`mkdir -p '/sys/fs/cgroup/${controllers}'`, `mount -t cgroup -o ${controllers} cgroup '/sys/fs/cgroup/${controllers}'`);
  }
  return lines.join('\n');
}

/** Shell lines that mount a fresh cgroup2 over the whole of /sys/fs/cgroup, hiding the hybrid mounts below. */
// On pure v2 the host's /sys/fs/cgroup is the one cgroup2 superblock, and the
// kernel refuses a superblock stacked on its own mount point (EBUSY): a tmpfs
// goes between them there, and the visible result is the same fresh cgroup2.
export const COVER_WITH_CGROUP2 = 'mount -t cgroup2 ocirun-cover /sys/fs/cgroup 2>/dev/null || '
  + '{ mount -t tmpfs ocirun-cover /sys/fs/cgroup && mount -t cgroup2 ocirun-cover /sys/fs/cgroup; }';

export interface ScriptResult { status: number | null; stdout: string; stderr: string; values: Record<string, string> }

/**
 * Runs `script` with bash -eu in a private mount namespace. Lines the script
 * prints as `key=value` are collected into `values`.
 */
export function inPrivateMountNs(script: string, env: Record<string, string> = {}, timeout = 60_000): ScriptResult {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'bash', '-euc', script], {
    encoding: 'utf8', timeout, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const values: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^([a-z_][a-z0-9_]*)=(.*)$/.exec(line);
    if (m) values[m[1]] = m[2];
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, values };
}

/**
 * The lifecycle in a private mount namespace whose /sys/fs/cgroup is a fresh
 * cgroup2 mount over whatever the host has there (a privileged CI container's
 * view): run -d, exec, pause/resume, events --stats, kill --all, delete. The
 * bundle's process must be long-running; `id` is the container to make.
 */
export function cgroupOvermountScenario(rt: RuntimeName, root: string, bundle: string, id: string): ScriptResult {
  const RT = runtimeCommand(rt, root);
  return inPrivateMountNs(`
${COVER_WITH_CGROUP2}
status() { ${RT} state '${id}' | tr -d ' \\n' | grep -o '"status":"[a-z]*"' | cut -d'"' -f4; }
${RT} run -d --bundle '${bundle}' '${id}' </dev/null >/dev/null
pid=$(${RT} state '${id}' | tr -d ' \\n' | grep -o '"pid":[0-9]*' | cut -d: -f2)
cg=$(grep '^0::' /proc/$pid/cgroup | cut -d: -f3)
echo in_cgroup=$(test -n "$cg" && test "$cg" != / && grep -qx "$pid" "/sys/fs/cgroup$cg/cgroup.procs" && echo yes || echo no)
echo exec=$(${RT} exec '${id}' echo hi)
echo exec_cgroup=$(${RT} exec '${id}' cat /proc/self/cgroup | grep '^0::' | cut -d: -f3)
${RT} pause '${id}'
echo paused=$(status)
echo frozen=$(cat "/sys/fs/cgroup$cg/cgroup.freeze")
${RT} resume '${id}'
echo resumed=$(status)
echo events=$(${RT} events --stats '${id}' | head -c 9)
${RT} kill --all '${id}' KILL
for i in $(seq 100); do [ "$(status)" = stopped ] && break; sleep 0.1; done
echo killed=$(status)
echo procs_left=$(cat "/sys/fs/cgroup$cg/cgroup.procs" 2>/dev/null | wc -l)
${RT} delete '${id}'
echo cgroup_left=$(test -e "/sys/fs/cgroup$cg" && echo yes || echo no)
echo cgroup_path=$cg
`);
}

/** What cgroupOvermountScenario must print for a runtime that handles the over-mount. */
export const OVERMOUNT_EXPECTED = {
  in_cgroup: 'yes', exec: 'hi', paused: 'paused', frozen: '1', resumed: 'running', events: '{"type":"',
  killed: 'stopped', procs_left: '0', cgroup_left: 'no',
};

/** runc's own state root for a test file: what a test left is force-deleted after it, the root at the end. */
export class RuncRoot {
  readonly dir = mkdtempSync(join(tmpdir(), 'ocirun-runc-'));

  deleteAll(): void {
    for (const id of readdirSync(this.dir)) spawnSync('runc', ['--root', this.dir, 'delete', '-f', id]);
  }

  remove(): void {
    this.deleteAll();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The over-mount scenario's result, checked the same on this host and in the VM. */
export function expectOvermountHandled(r: ScriptResult): void {
  // runc 1.1.5's kill --all races the exits of the processes it signals and
  // logs this warning now and then; it is not a failure of the scenario.
  const stderr = r.stderr.split('\n').filter((l) => !l.includes('level=warning msg="os: process already finished"')).join('\n');
  expect(stderr).toBe('');
  expect(r.status).toBe(0);
  const { cgroup_path: path, exec_cgroup: execCgroup, ...seen } = r.values;
  expect(seen).toEqual(OVERMOUNT_EXPECTED);
  // exec joined the container's cgroup, in the hierarchy that is visible.
  expect(execCgroup).toBe(path);
}

/**
 * Registers, in the current describe block, a Harness and a runc state root
 * for scenarios run against both: after each test both are cleaned and
 * nothing may be left (state dirs, processes, mounts, and with `cgroups` the
 * harness's cgroups). Returns accessors, valid once beforeAll has run.
 */
export function harnessWithRunc(opts: { cgroups?: boolean } = {}): { h: () => Harness; runc: RuncRoot } {
  let h: Harness | undefined;
  const runc = new RuncRoot();
  beforeAll(async () => {
    h = await Harness.create();
  });
  afterEach(() => {
    runc.deleteAll();
    expect(h!.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
    if (opts.cgroups) expect(h!.leakedCgroups()).toEqual([]);
  });
  afterAll(() => {
    h?.destroy();
    runc.remove();
  });
  return { h: () => h!, runc };
}
