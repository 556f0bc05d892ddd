// Mount features seen from inside real containers: recursive attributes,
// per-mount and rootfs propagation, id-mapped mounts and tmpcopyup.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Harness, RUNC, isRoot, waitFor } from './harness.js';
import type { IDMapping, Mount, Spec } from '../../src/oci/types.js';
import { defaultSpec } from '../../src/config/default-spec.js';

/** Where a mount appended to the default spec lands in `mounts`. */
const NEXT = defaultSpec().mounts!.length;

function sys(cmd: string, ...args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

const userns = (s: Spec): void => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

/** "<mount point> <options> <optional fields...>" of each mountinfo line under the given mount points. */
const MOUNTINFO = (...points: string[]) =>
  `awk '{ o=""; for (i=7; $i!="-"; i++) o=o" "$i; print $5, $6 o }' /proc/self/mountinfo | grep -E '^(${points.join('|')}) '`;

describe.runIf(isRoot)('mounts', () => {
  let h: Harness;
  /** Host mounts a test made; unmounted (innermost first) before the leak check. */
  const hostMounts: string[] = [];
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    while (hostMounts.length > 0) spawnSync('umount', ['-l', hostMounts.pop()!]);
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  /** A host directory holding a file and a tmpfs submount "sub" holding another; both owned by uid/gid 1000. */
  function hostTree(): string {
    const dir = mkdtempSync(join(h.work, 'tree-'));
    // Searchable by the container's root, which has no CAP_DAC_OVERRIDE and may be someone else through a mapping.
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'top'), 'top\n');
    mkdirSync(join(dir, 'sub'));
    sys('mount', '-t', 'tmpfs', 'tmpfs', join(dir, 'sub'));
    hostMounts.push(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', 'inner'), 'inner\n');
    for (const f of ['top', 'sub/inner']) chownSync(join(dir, f), 1000, 1000);
    return dir;
  }

  function run(script: string, edit: (s: Spec) => void) {
    const bundle = h.bundle((s) => { s.process!.args = ['sh', '-c', script]; edit(s); });
    return h.run(['run', '--bundle', bundle, h.id()]);
  }

  const bind = (destination: string, source: string, options: string[], extra: Partial<Mount> = {}): Mount =>
    ({ destination, type: 'bind', source, options: ['rbind', ...options], ...extra });

  it('applies recursive attributes to submounts too', () => {
    const tree = hostTree();
    const r = run([
      'touch /ro/x /ro/sub/x /plain/sub/x 2>&1',
      MOUNTINFO('/ro', '/ro/sub', '/attrs/sub') + " | awk '{ print $1, $2 }'",
    ].join('; '), (s) => {
      s.mounts!.push(bind('/ro', tree, ['rro']), bind('/plain', tree, []), bind('/attrs', tree, ['rnosuid', 'rnodev', 'rnoexec', 'rnoatime']));
    });
    expect(r.stdout.split('\n')).toEqual([
      'touch: /ro/x: Read-only file system',
      'touch: /ro/sub/x: Read-only file system',
      '/ro ro,relatime',
      '/ro/sub ro,relatime',
      '/attrs/sub rw,nosuid,nodev,noexec,noatime',
      '',
    ]);
    // Without "rro" the same submount stayed writable, and the host's is untouched.
    expect(existsSync(join(tree, 'sub', 'x'))).toBe(true);
    expect(statSync(join(tree, 'sub')).isDirectory()).toBe(true);
  });

  it('sets per-mount propagation, and a slave receives what the host mounts later', async () => {
    const shared = mkdtempSync(join(h.work, 'shared-'));
    sys('mount', '-t', 'tmpfs', 'tmpfs', shared);
    hostMounts.push(shared);
    sys('mount', '--make-shared', shared);
    const id = h.id();
    const bundle = h.bundle((s) => {
      s.process!.args = ['sleep', '30'];
      s.mounts!.push(
        { destination: '/p-shared', type: 'tmpfs', source: 'tmpfs', options: ['shared'] },
        { destination: '/p-unbindable', type: 'tmpfs', source: 'tmpfs', options: ['unbindable'] },
        bind('/p-slave', shared, ['rslave']),
        bind('/p-private', shared, ['rprivate']),
      );
    });
    expect(h.run(['create', '--bundle', bundle, id]).status).toBe(0);
    const pid = JSON.parse(h.run(['state', id]).stdout).pid;
    const fields = (point: string) => {
      const line = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === point)!;
      return line.slice(0, line.indexOf(' - ')).split(' ').slice(6).map((f) => f.replace(/:\d+$/, ':N'));
    };
    expect(fields('/p-shared')).toEqual(['shared:N']);
    expect(fields('/p-unbindable')).toEqual(['unbindable']);
    expect(fields('/p-slave')).toEqual(['master:N']);
    expect(fields('/p-private')).toEqual([]);

    mkdirSync(join(shared, 'later'));
    sys('mount', '-t', 'tmpfs', 'tmpfs', join(shared, 'later'));
    hostMounts.push(join(shared, 'later'));
    await waitFor(() => readFileSync(`/proc/${pid}/mountinfo`, 'utf8').includes(' /p-slave/later '));
    expect(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).not.toContain(' /p-private/later ');
    expect(h.run(['delete', '--force', id]).status).toBe(0);
  });

  it.each([['shared', true], ['private', false], [undefined, false]] as const)('gives the root mount rootfsPropagation %s', (propagation, shared) => {
    const r = run(MOUNTINFO('/'), (s) => {
      if (propagation) s.linux!.rootfsPropagation = propagation;
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(/^\/ ro,/);
    expect(/ shared:\d+/.test(r.stdout)).toBe(shared);
  });

  // Kubernetes' mount propagation as containerd asks for it: the volume's own
  // option and the same mode as rootfsPropagation. The volume is a shared
  // mount on the host. What the host mounts under it later reaches the
  // container unless rprivate; what the container mounts under it reaches the
  // host only with rshared (the volume stays a peer: same shared:N).
  it.each(([['ocirun', 'rshared'], ['ocirun', 'rslave'], ['ocirun', 'rprivate'],
    ...(RUNC ? [['runc', 'rshared'], ['runc', 'rslave'], ['runc', 'rprivate']] : [])]) as ['ocirun' | 'runc', string][])(
    '%s: an %s volume propagates as Kubernetes expects', async (runtime, mode) => {
      const vol = mkdtempSync(join(h.work, 'vol-'));
      sys('mount', '-t', 'tmpfs', 'tmpfs', vol);
      hostMounts.push(vol);
      sys('mount', '--make-shared', vol);
      mkdirSync(join(vol, 'from-host'));
      hostMounts.push(join(vol, 'from-host'), join(vol, 'from-ctr'));
      const id = h.id();
      const bundle = h.bundle((s) => {
        s.process!.args = ['sh', '-c', 'mkdir /vol/from-ctr && mount -t tmpfs ctr /vol/from-ctr && exec sleep 30'];
        for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYS_ADMIN');
        s.mounts!.push(bind('/vol', vol, [mode]));
        s.linux!.rootfsPropagation = mode;
      });
      expect(h.runWith(runtime, ['create', '--bundle', bundle, id])).toMatchObject({ status: 0, stderr: '' });
      const pid = JSON.parse(h.runWith(runtime, ['state', id]).stdout).pid;
      expect(h.runWith(runtime, ['start', id]).status).toBe(0);
      const info = (file: string, point: string): string[] | undefined => {
        const line = readFileSync(file, 'utf8').split('\n').find((l) => l.split(' ')[4] === point);
        return line?.slice(0, line.indexOf(' - ')).split(' ').slice(6);
      };
      await waitFor(() => info(`/proc/${pid}/mountinfo`, '/vol/from-ctr') !== undefined);
      sys('mount', '-t', 'tmpfs', 'host', join(vol, 'from-host'));
      const hostPeer = info('/proc/self/mountinfo', vol)!.find((f) => f.startsWith('shared:'))!.split(':')[1];
      expect(info(`/proc/${pid}/mountinfo`, '/vol')).toEqual(
        { rshared: [`shared:${hostPeer}`], rslave: [`master:${hostPeer}`], rprivate: [] }[mode]);
      if (mode !== 'rprivate') await waitFor(() => info(`/proc/${pid}/mountinfo`, '/vol/from-host') !== undefined);
      else expect(info(`/proc/${pid}/mountinfo`, '/vol/from-host')).toBeUndefined();
      expect(info('/proc/self/mountinfo', join(vol, 'from-ctr')) !== undefined).toBe(mode === 'rshared');
      expect(h.runWith(runtime, ['delete', '--force', id]).status).toBe(0);
    });

  it('shows files through an id-mapped mount with the mapped owner', () => {
    const tree = hostTree();
    const map: IDMapping[] = [{ containerID: 0, hostID: 5000, size: 2000 }];
    const r = run([
      'stat -c "%n %u:%g" /plain/top /mapped/top /mapped/sub/inner /rmapped/sub/inner',
      MOUNTINFO('/mapped', '/rmapped/sub') + " | grep -c idmapped",
    ].join('; '), (s) => {
      s.mounts!.push(
        bind('/plain', tree, []),
        bind('/mapped', tree, ['idmap'], { uidMappings: map, gidMappings: map }),
        bind('/rmapped', tree, ['ridmap'], { uidMappings: map, gidMappings: map }),
      );
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    // On-disk 1000 appears as 5000 + (1000 - 0); "idmap" leaves the submount alone, "ridmap" maps it too.
    expect(r.stdout.split('\n')).toEqual([
      '/plain/top 1000:1000', '/mapped/top 6000:6000', '/mapped/sub/inner 1000:1000', '/rmapped/sub/inner 6000:6000', '2', '',
    ]);
    // The host's files are untouched.
    expect(statSync(join(tree, 'top')).uid).toBe(1000);
  });

  it("id-maps with the container's user namespace when the mount has no mappings", () => {
    const tree = hostTree();
    const r = run('stat -c "%n %u:%g" /plain/top /mapped/top', (s) => {
      userns(s);
      s.mounts!.push(bind('/plain', tree, []), bind('/mapped', tree, ['idmap']));
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    // Host uid 1000 is not mapped into the namespace (0 -> 100000): nobody, unless id-mapped.
    expect(r.stdout).toBe('/plain/top 65534:65534\n/mapped/top 1000:1000\n');
  });

  it.each([
    ['idmap on a tmpfs', { destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }, 'options: "idmap" requires a bind mount'],
    ['idmap without any mapping', { destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', 'ridmap'] },
      'options: "ridmap" needs uidMappings and gidMappings, or a user namespace to take them from'],
    ['mappings without idmap', { destination: '/x', type: 'bind', source: '/tmp', options: ['rbind'], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] },
      'uidMappings: requires the "idmap" or "ridmap" mount option'],
    ['tmpcopyup on a bind mount', { destination: '/x', type: 'bind', source: '/tmp', options: ['rbind', 'tmpcopyup'] },
      'options: "tmpcopyup" requires a tmpfs mount'],
  ] as const)('refuses %s with one line, creating nothing', (_name, mount, message) => {
    const r = run('true', (s) => { s.mounts!.push(structuredClone(mount) as unknown as Mount); });
    expect(r).toMatchObject({ status: 1, stderr: `ocirun: mounts[${NEXT}].${message}\n` });
    expect(h.stateDirs()).toEqual([]);
  });

  it('copies the image directory into a tmpcopyup tmpfs', () => {
    const image = (p: string) => join(h.rootfs, p);
    const r = run([
      'cat /etc/passwd', 'stat -c "%a %u" /etc/passwd', 'readlink /bin/sh', 'echo new > /etc/new && cat /etc/new',
      "awk '$5 == \"/etc\" || $5 == \"/bin\" { print $5, $9 }' /proc/self/mountinfo",
    ].join('; '), (s) => {
      s.mounts!.push(
        { destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] },
        { destination: '/bin', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'mode=755'] },
      );
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const mode = (statSync(image('etc/passwd')).mode & 0o7777).toString(8);
    expect(r.stdout).toBe(`${readFileSync(image('etc/passwd'), 'utf8')}${mode} 0\n${readlinkSync(image('bin/sh'))}\nnew\n/etc tmpfs\n/bin tmpfs\n`);
    // Writes went to the tmpfs, not the (read-only) image.
    expect(existsSync(image('etc/new'))).toBe(false);
  });

  it('copies up inside a user namespace too', () => {
    const r = run('cat /etc/hosts | head -1; touch /etc/mine && stat -c %u /etc/mine', (s) => {
      userns(s);
      s.mounts!.push({ destination: '/etc', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] });
    });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toBe(`${readFileSync(join(h.rootfs, 'etc/hosts'), 'utf8').split('\n')[0]}\n0\n`);
  });
});
