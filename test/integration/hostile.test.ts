// Hostile bundles: each gets one clear error line (or is confined), a non-zero
// exit where refused, and leaves the host unchanged (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot } from './harness.js';
import type { Spec } from '../../src/oci/types.js';

describe.runIf(isRoot)('hostile input', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  function refused(bundle: string, pattern: RegExp): void {
    const r = h.run(['run', '--bundle', bundle, h.id()]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^ocirun: [^\n]+\n$/);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(h.stateDirs()).toEqual([]);
  }

  it.each<[string, (s: Spec) => void, RegExp]>([
    ['wrong types', (s) => { (s.process as unknown as { args: string }).args = 'sh'; }, /process\.args/],
    ['a missing root', (s) => { delete (s as Partial<Spec>).root; }, /root/],
    ['overlapping id mappings', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }, { containerID: 500, hostID: 300000, size: 10 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 1000 }];
    }, /linux\.uidMappings\[1\]/],
    ['a negative uid', (s) => { s.process!.user.uid = -1; }, /process\.user\.uid/],
    ['an absurd rlimit type', (s) => { s.process!.rlimits = [{ type: 'RLIMIT_NOPE', soft: 1, hard: 1 }]; }, /process\.rlimits\[0\]\.type/],
    ['a non-namespaced sysctl', (s) => { s.linux!.sysctl = { 'vm.swappiness': '0' }; }, /linux\.sysctl.*vm\.swappiness/],
    ['a hook that does not exist', (s) => { s.hooks = { prestart: [{ path: '/no/such/hook' }] }; }, /prestart hook #0 \(\/no\/such\/hook\)/],
    ['a negative memory limit', (s) => { s.linux!.resources = { memory: { limit: -5 } }; }, /linux\.resources\.memory\.limit/],
    ['an absurd pids limit', (s) => { s.linux!.resources = { pids: { limit: 1e300 } }; }, /linux\.resources\.pids\.limit/],
  ])('refuses a config with %s', (_, edit, pattern) => {
    refused(h.bundle(edit), pattern);
  });

  it('refuses a 50 MB config quickly, without reading it all', () => {
    const dir = join(h.work, 'huge');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), Buffer.alloc(50 << 20, 0x20));
    refused(dir, /too large/);
  });

  it('refuses a rootfs that is a symlink to /', () => {
    const dir = join(h.work, 'rootlink');
    mkdirSync(dir, { recursive: true });
    symlinkSync('/', join(dir, 'rootfs'));
    writeFileSync(join(dir, 'config.json'), readFileSync(join(h.bundle(), 'config.json')));
    const spec = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    spec.root = { path: 'rootfs', readonly: true };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec));
    refused(dir, /root/);
  });

  it('keeps the proc mount inside the rootfs when /proc is a symlink out of it', async () => {
    const rootfs = await h.privateRootfs();
    const outside = join(h.work, 'outside-proc');
    mkdirSync(outside);
    rmSync(join(rootfs, 'proc'), { recursive: true });
    symlinkSync(outside, join(rootfs, 'proc'));
    const r = h.run(['run', '--bundle', h.bundle((s) => { s.root = { path: rootfs }; s.process!.args = ['sh', '-c', 'test -e /proc/self/status && echo proc-ok']; }), h.id()]);
    expect(r).toMatchObject({ status: 0, stdout: 'proc-ok\n' });
    // The host directory the link names got nothing mounted on it or written to it.
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(outside);
  });

  it('does not follow a /dev/null symlink planted in the rootfs when creating devices', async () => {
    const rootfs = await h.privateRootfs();
    const victim = join(h.work, 'victim-file');
    writeFileSync(victim, 'untouched\n');
    mkdirSync(join(rootfs, 'dev'), { recursive: true });
    symlinkSync(victim, join(rootfs, 'dev', 'null'));
    // No /dev tmpfs: devices are created directly in the rootfs's /dev.
    const r = h.run(['run', '--bundle', h.bundle((s) => {
      s.root = { path: rootfs };
      s.mounts = s.mounts!.filter((m) => !m.destination.startsWith('/dev'));
      s.process!.args = ['sh', '-c', 'stat -c "%F %t:%T" /dev/null; echo data > /dev/null'];
    }), h.id()]);
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    if (r.status === 0) expect(r.stdout).toBe('character special file 1:3\n');
    else expect(r.stderr).toMatch(/^ocirun: .*\/dev\/null/);
  });

  it('masks a path whose name is a symlink without following it out of the rootfs', async () => {
    const rootfs = await h.privateRootfs();
    const secret = join(h.work, 'host-secret');
    writeFileSync(secret, 'host secret\n');
    symlinkSync(secret, join(rootfs, 'etc', 'masked-link'));
    const r = h.run(['run', '--bundle', h.bundle((s) => {
      s.root = { path: rootfs };
      s.linux!.maskedPaths = ['/etc/masked-link'];
      s.process!.args = ['sh', '-c', 'cat /etc/masked-link 2>&1; echo end'];
    }), h.id()]);
    expect(r.stdout).not.toContain('host secret');
    expect(readFileSync(secret, 'utf8')).toBe('host secret\n');
  });

  it('hands the container no host file descriptor and runs the helper sealed (CVE-2024-21626, CVE-2019-5736)', () => {
    const id = h.id();
    expect(h.run(['create', '--bundle', h.bundle((s) => { s.process!.args = ['sh', '-c', 'ls /proc/self/fd; readlink /proc/self/cwd']; }), id]).status).toBe(0);
    const pid = JSON.parse(h.run(['state', id]).stdout).pid;
    // The waiting init is the sealed memfd copy, which cannot be opened for writing.
    expect(readlinkSync(`/proc/${pid}/exe`)).toMatch(/^\/memfd:ocirun-init/);
    expect(() => writeFileSync(`/proc/${pid}/exe`, 'x')).toThrow(/ETXTBSY|EPERM|EACCES/);
    h.run(['delete', '--force', id]);
    const r = h.run(['run', '--bundle', h.bundle((s) => { s.process!.args = ['sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "; readlink /proc/self/cwd']; }), h.id()]);
    // 0-2 are stdio; 3 is ls's own directory handle on /proc/self/fd.
    expect(r.stdout).toBe('0 1 2 3 /\n');
    expect(existsSync(join(h.root))).toBe(true);
  });
});
