// Paths the image controls in /dev (the CVE-2025-52565 class): every entry the
// runtime creates or mounts on there, planted in the image as a symlink
// (absolute, relative, and out of the rootfs). The file the link names, in the
// rootfs or on the host, must stay untouched, and the container either gets
// its own correct entry or fails with one line (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Harness, isRoot } from './harness.js';
import type { Spec } from '../../src/oci/types.js';

type Aim = 'absolute' | 'relative' | 'out of the rootfs';
const AIMS: Aim[] = ['absolute', 'relative', 'out of the rootfs'];

/** Entries the runtime mounts on or makes as nodes: a planted link must be refused. */
const REFUSED: Array<{ entry: string; dir: boolean; edit?: (s: Spec) => void }> = [
  { entry: 'console', dir: false, edit: (s) => { s.process!.terminal = true; } },
  { entry: 'pts', dir: true },
  { entry: 'shm', dir: true },
  { entry: 'mqueue', dir: true },
  { entry: 'null', dir: false },
  { entry: 'tty', dir: false },
  { entry: 'urandom', dir: false },
  // Inside a user namespace the default nodes are bind mounts of the host's.
  { entry: 'zero', dir: false, edit: (s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    s.mounts = s.mounts!.filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup');
  } },
];

/** The runtime's own /dev links: a planted link is replaced by the right one. */
const REPLACED: Array<[string, string]> = [
  ['ptmx', 'pts/ptmx'], ['fd', '/proc/self/fd'], ['stdin', '/proc/self/fd/0'], ['stdout', '/proc/self/fd/1'], ['stderr', '/proc/self/fd/2'],
];

describe.runIf(isRoot)('symlinks planted in the image\'s /dev', () => {
  let h: Harness;
  let listener: ChildProcess | undefined;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    listener?.kill('SIGKILL');
    listener = undefined;
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  /** A rootfs whose /dev/<entry> links to a victim; the config has no /dev tmpfs, so the image's /dev is used. */
  async function planted(entry: string, dir: boolean, aim: Aim) {
    const rootfs = await h.privateRootfs();
    const inRootfs = join(rootfs, 'etc', `victim-${entry}`);
    const onHost = join(h.work, `host-victim-${entry}-${aim.replace(/ /g, '-')}`);
    for (const v of [inRootfs, onHost]) {
      if (dir) { mkdirSync(v); writeFileSync(join(v, 'keep'), 'untouched\n'); } else writeFileSync(v, 'untouched\n');
    }
    const link = join(rootfs, 'dev', entry);
    mkdirSync(join(rootfs, 'dev'), { recursive: true });
    rmSync(link, { recursive: true, force: true });
    const target = aim === 'absolute' ? `/etc/victim-${entry}`
      : aim === 'relative' ? `../etc/victim-${entry}`
        : `${'../'.repeat(12)}${relative('/', onHost)}`;
    symlinkSync(target, link);
    const untouched = () => {
      for (const v of [inRootfs, onHost]) {
        if (dir) expect(readdirSync(v)).toEqual(['keep']);
        expect(readFileSync(dir ? join(v, 'keep') : v, 'utf8')).toBe('untouched\n');
        expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(v);
      }
    };
    return { rootfs, untouched };
  }

  const noDevTmpfs = (rootfs: string, args: string[], edit?: (s: Spec) => void) => (s: Spec) => {
    s.root = { path: rootfs };
    s.mounts = s.mounts!.filter((m) => m.destination !== '/dev');
    s.process!.args = args;
    edit?.(s);
  };

  /** A console socket that accepts nothing: the console mount fails before anything is sent to it. */
  async function consoleSocket(): Promise<string> {
    const sock = join(h.work, `console-${h.id()}.sock`);
    listener = spawn('python3', ['-c', 'import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\nprint("ready",flush=True)\ntime.sleep(60)', sock],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => listener!.stdout!.once('data', () => res()));
    return sock;
  }

  for (const { entry, dir, edit } of REFUSED) {
    it.each(AIMS)(`refuses /dev/${entry} as a symlink (%s) in one line, following nothing`, async (aim) => {
      const { rootfs, untouched } = await planted(entry, dir, aim);
      const bundle = h.bundle(noDevTmpfs(rootfs, ['sh', '-c', `echo reached > /dev/${entry}/x; echo reached > /dev/${entry}`], edit));
      const args = entry === 'console' ? ['create', '--console-socket', await consoleSocket()] : ['run'];
      const r = h.run([...args, '--bundle', bundle, h.id()]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^ocirun: [^\\n]*/dev/${entry}[^\\n]*\\n$`));
      expect(r.stderr).toMatch(/symlink/);
      expect(h.stateDirs()).toEqual([]);
      untouched();
    });
  }

  it.each(REPLACED)('replaces a planted /dev/%s link with the container\'s own (-> %s)', async (entry, want) => {
    for (const aim of AIMS) {
      const { rootfs, untouched } = await planted(entry, false, aim);
      const r = h.run(['run', '--bundle', h.bundle(noDevTmpfs(rootfs, ['readlink', `/dev/${entry}`])), h.id()]);
      expect(r, aim).toMatchObject({ status: 0, stdout: `${want}\n` });
      untouched();
    }
  });
});
