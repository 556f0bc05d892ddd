// Identity and capabilities as a hostile or careless config gives them: ids
// that set*id() would read as "unchanged" ((uid_t)-1) or cannot take, from
// config.json, exec's flags and exec's process.json; capabilities the runtime
// itself does not hold (root only). runc is the reference where it refuses too.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, OCIRUN, isRoot } from './harness.js';
import type { Spec } from '../../src/oci/types.js';
import { helperPath, native } from '../../src/native/binding.js';
import { encodePlan } from '../../src/native/plan-encode.js';
import type { InitPlan } from '../../src/native/plan-schema.js';
import { CLONE, minimalInitPlan } from '../support/plan.js';

const RUNC = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));

describe.runIf(isRoot)('hostile ids and capabilities', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  const oneLine = (stderr: string) => {
    expect(stderr).toMatch(/^ocirun: [^\n]+\n$/);
    expect(stderr).not.toMatch(/\n\s+at /);
  };

  const userns = (s: Spec) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.mounts = s.mounts!.filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup');
  };

  it.each<[string, (s: Spec) => void, RegExp]>([
    ['uid 4294967295', (s) => { s.process!.user = { uid: 4294967295, gid: 1000 }; }, /process\.user\.uid: .*4294967294/],
    ['gid 4294967295', (s) => { s.process!.user = { uid: 1000, gid: 4294967295 }; }, /process\.user\.gid: /],
    ['uid -1', (s) => { s.process!.user = { uid: -1, gid: 0 }; }, /process\.user\.uid: /],
    ['uid 2^32', (s) => { s.process!.user = { uid: 2 ** 32, gid: 0 }; }, /process\.user\.uid: /],
    ['an additional gid of 4294967295', (s) => { s.process!.user = { uid: 1000, gid: 1000, additionalGids: [10, 4294967295] }; }, /process\.user\.additionalGids\[1\]: /],
    ['a uid map hostID of 4294967295', (s) => {
      userns(s);
      s.linux!.uidMappings = [{ containerID: 0, hostID: 4294967295, size: 1 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    }, /linux\.uidMappings\[0\]\.hostID: /],
    ['a gid map whose sum reaches (uid_t)-1', (s) => {
      userns(s);
      s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 1, size: 4294967295 }];
    }, /linux\.gidMappings\[0\]: hostID \+ size exceeds 4294967295/],
    ['a map of size 0', (s) => {
      userns(s);
      s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 0 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    }, /linux\.uidMappings\[0\]\.size: /],
  ])('refuses %s before anything runs (and so does runc)', (_, edit, pattern) => {
    const bundle = h.bundle((s) => { edit(s); s.process!.args = ['id']; });
    const r = h.run(['run', '--bundle', bundle, h.id()]);
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout).toBe('');
    oneLine(r.stderr);
    expect(r.stderr).toMatch(pattern);
    expect(h.stateDirs()).toEqual([]);
    if (RUNC) {
      const root = join(h.work, 'runc-state');
      const ref = spawnSync(RUNC, ['--root', root, 'run', '--bundle', bundle, h.id('runc')], { encoding: 'utf8', timeout: 30_000, input: '' });
      expect(ref.status, `runc: ${ref.stdout}${ref.stderr}`).not.toBe(0);
      expect(ref.stdout).not.toMatch(/uid=0\b/);
    }
  });

  it('refuses out-of-range ids from exec --user, -g and process.json, naming the flag or path', () => {
    const id = h.id();
    expect(h.run(['run', '-d', '--bundle', h.bundle((s) => { s.process!.args = ['sleep', '30']; }), id]).status).toBe(0);
    for (const [args, pattern] of [
      [['--user', '4294967295'], /--user 4294967295: out of range/],
      [['--user', '1000:4294967295'], /--user 4294967295: out of range/],
      [['-g', '10,4294967295'], /--additional-gids 4294967295: out of range/],
      [['--user', '99999999999999999999'], /--user 99999999999999999999: out of range/],
    ] as Array<[string[], RegExp]>) {
      const r = h.run(['exec', ...args, id, 'id']);
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(pattern);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const file = join(h.work, `process-${id}.json`);
    writeFileSync(file, JSON.stringify({ args: ['id'], cwd: '/', user: { uid: 4294967295, gid: 0 } }));
    const r = h.run(['exec', '--process', file, id]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/process\.user\.uid: /);
    // The container still works as it should.
    expect(h.run(['exec', '--user', '1000:1000', id, 'id', '-u']).stdout).toBe('1000\n');
    h.run(['delete', '--force', id]);
  });

  // The helper's own check, for a plan that did not come through the validator.
  it.each<[string, (p: InitPlan) => void, RegExp]>([
    ['uid', (p) => { p.process.uid = 4294967295; }, /process uid 4294967295 is \(uid_t\)-1/],
    ['gid', (p) => { p.process.gid = 4294967295; }, /process gid 4294967295/],
    ['additional gid', (p) => { p.process.additionalGids = [1, 4294967295]; }, /additional gid 4294967295/],
    ['uid map', (p) => {
      p.namespaces.push({ type: CLONE.NEWUSER });
      p.uidMappings = [{ containerID: 0, hostID: 1, size: 4294967295 }];
      p.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
    }, /uid map extent 0 1 4294967295 is out of range/],
  ])('the helper refuses a plan whose %s is (uid_t)-1 before doing anything', async (_, edit, pattern) => {
    const plan = minimalInitPlan();
    plan.stateDir = join(h.work, 'no-such-state-dir');
    edit(plan);
    const devnull = openSync('/dev/null', 'r+');
    try {
      const err = await native().spawnContainer({ helper: helperPath(), plan: encodePlan(plan), stdio: [devnull, devnull, devnull] })
        .then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(pattern);
    } finally {
      closeSync(devnull);
    }
  });

  // Root on this host lacks CAP_SYS_RESOURCE, and setpriv takes CAP_NET_RAW
  // from the bounding set: a config asking for them gets one warning at create
  // and a container without them, never a failure after start.
  it('drops capabilities the runtime does not hold, with a warning, before create returns', () => {
    const caps = ['CAP_SYS_RESOURCE', 'CAP_NET_RAW', 'CAP_CHOWN'];
    const bundle = h.bundle((s) => {
      s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
      s.process!.args = ['sh', '-c', 'grep CapEff /proc/self/status'];
    });
    const effective = (stdout: string) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(stdout)![1]}`);
    const has = (mask: bigint, bit: number) => (mask & (1n << BigInt(bit))) !== 0n;
    const sysResource = has(ownBounding(), 24);

    const plain = h.run(['run', '--bundle', bundle, h.id()]);
    expect(plain.status, plain.stderr).toBe(0);
    // CAP_CHOWN is 0, CAP_NET_RAW 13, CAP_SYS_RESOURCE 24.
    expect([0, 13, 24].map((b) => has(effective(plain.stdout), b))).toEqual([true, true, sysResource]);
    if (!sysResource) expect(plain.stderr).toMatch(/process\.capabilities: CAP_SYS_RESOURCE not held by the runtime: dropped/);

    const restricted = spawnSync('setpriv', ['--bounding-set', '-net_raw', OCIRUN, '--root', h.root, 'run', '--bundle', bundle, h.id()],
      { encoding: 'utf8', timeout: 30_000, input: '' });
    expect(restricted.status, restricted.stderr).toBe(0);
    expect([0, 13, 24].map((b) => has(effective(restricted.stdout), b))).toEqual([true, false, sysResource]);
    expect(restricted.stderr).toMatch(/process\.capabilities: .*CAP_NET_RAW.* not held by the runtime: dropped from every set/);
    expect(restricted.stderr.trim().split('\n')).toHaveLength(1);
  });
});

/** This process's bounding set (an unrestricted ocirun's too). */
function ownBounding(): bigint {
  return BigInt(`0x${/CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]}`);
}
