// linux.devices from inside real containers: the node's type, numbers, mode
// and owner; bind-mounted from the host in a user namespace; refused when
// something else already sits at the path.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Harness, isRoot } from './harness.js';
import type { LinuxDevice, Spec } from '../../src/oci/types.js';

const STAT = 'stat -c "%n %F %t:%T %a %u:%g"';

const userns = (s: Spec): void => {
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
};

describe.runIf(isRoot)('linux.devices', () => {
  let h: Harness;
  beforeAll(async () => { h = await Harness.create(); });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  function runWith(devices: LinuxDevice[], script: string, edit?: (s: Spec) => void) {
    const bundle = h.bundle((s) => {
      s.linux!.devices = devices;
      s.process!.args = ['sh', '-c', script];
      edit?.(s);
    });
    return h.run(['run', '--bundle', bundle, h.id()]);
  }

  it('creates each node with its type, numbers, mode and owner', () => {
    const r = runWith([
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600, uid: 1000, gid: 1001 },
      { path: '/dev/mydev', type: 'c', major: 1, minor: 3, fileMode: 0o666 },
      { path: '/dev/loop-fake', type: 'b', major: 7, minor: 200, fileMode: 0o640, gid: 6 },
      { path: '/dev/unbuffered', type: 'u', major: 1, minor: 5 },
      { path: '/dev/net/pipe', type: 'p', fileMode: 0o620 },
    ], `${STAT} /dev/fuse /dev/mydev /dev/loop-fake /dev/unbuffered /dev/net/pipe; echo x > /dev/mydev && wc -c < /dev/mydev`);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout.split('\n')).toEqual([
      '/dev/fuse character special file a:e5 600 1000:1001',
      // c 1:3 is the null device under another name: writes vanish, reads are empty.
      '/dev/mydev character special file 1:3 666 0:0',
      '/dev/loop-fake block special file 7:c8 640 0:6',
      '/dev/unbuffered character special file 1:5 666 0:0',
      '/dev/net/pipe fifo 0:0 620 0:0',
      '0',
      '',
    ]);
  });

  it('lets a configured device replace a default one at the same path', () => {
    const r = runWith([{ path: '/dev/full', type: 'c', major: 1, minor: 7, fileMode: 0o600 }], `${STAT} /dev/full /dev/null`);
    expect(r.stdout).toBe('/dev/full character special file 1:7 600 0:0\n/dev/null character special file 1:3 666 0:0\n');
  });

  it.skipIf(!existsSync('/dev/fuse'))('bind-mounts the host node inside a user namespace', () => {
    const host = statSync('/dev/fuse');
    const r = runWith([
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 },
      { path: '/dev/myfifo', type: 'p' },
    ], `${STAT} /dev/fuse /dev/myfifo; grep -c " /dev/fuse " /proc/self/mountinfo`, userns);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    // The host's node keeps its own mode; its root owner is unmapped here.
    expect(r.stdout.split('\n')).toEqual([
      `/dev/fuse character special file a:e5 ${(host.mode & 0o7777).toString(8)} 65534:65534`,
      '/dev/myfifo fifo 0:0 666 0:0',
      '1',
      '',
    ]);
  });

  it('refuses a host node that does not exist, inside a user namespace', () => {
    const r = runWith([{ path: '/dev/ocirun-no-such-node', type: 'c', major: 1, minor: 3 }], 'true', userns);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ocirun: find host device \/dev\/ocirun-no-such-node: .*ENOENT/);
  });

  it('refuses to replace something else at the path, and leaves nothing behind', async () => {
    const rootfs = await h.privateRootfs();
    mkdirSync(join(rootfs, 'opt'), { recursive: true });
    expect(spawnSync('mknod', [join(rootfs, 'opt/zero'), 'c', '1', '5']).status).toBe(0);
    writeFileSync(join(rootfs, 'opt/notes'), 'keep me\n');
    for (const [path, want] of [['/opt/zero', /a different file already exists at \/opt\/zero/], ['/opt/notes', /a different file already exists at \/opt\/notes/]] as const) {
      const r = runWith([{ path, type: 'c', major: 1, minor: 3 }], 'true', (s) => { s.root = { path: rootfs, readonly: true }; });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(want);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // What was there is untouched.
    expect(statSync(join(rootfs, 'opt/zero')).rdev).toBe(statSync('/dev/zero').rdev);
    expect(existsSync(join(rootfs, 'opt/notes'))).toBe(true);
  });

  it('refuses an invalid device list before creating anything', () => {
    const r = runWith([
      { path: '/dev/a', type: 'c', minor: 1 },
      { path: '/dev/b', type: 'p' },
      { path: '/dev/b/', type: 'p' },
    ], 'true');
    expect(r).toMatchObject({ status: 1, stderr: 'ocirun: linux.devices[0].major: is required for a device of type "c" (and 1 more problem)\n' });
    expect(h.stateDirs()).toEqual([]);
  });
});
