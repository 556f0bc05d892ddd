// no_new_privileges: a setuid-root binary in the rootfs gives an unprivileged
// container process root only when the flag is off (root only).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Harness, isRoot } from './harness.js';

describe.runIf(isRoot)('noNewPrivileges', () => {
  let h: Harness;
  let rootfs: string;
  beforeAll(async () => {
    h = await Harness.create();
    rootfs = await h.privateRootfs();
    const src = join(h.work, 'euid.c');
    writeFileSync(src, '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("euid=%d\\n",(int)geteuid());return 0;}\n');
    const bin = join(rootfs, 'bin', 'euid');
    const cc = spawnSync('cc', ['-static', '-O2', '-o', bin, src], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    chownSync(bin, 0, 0);
    chmodSync(bin, 0o4755);
  });
  afterEach(() => {
    expect(h.cleanup()).toEqual({ stateDirs: [], processes: [], mounts: [] });
  });
  afterAll(() => h?.destroy());

  it.each([[false, 'euid=0'], [true, 'euid=1000']])('with noNewPrivileges %s a setuid-root binary runs as %s', (nnp, expected) => {
    const r = h.run(['run', '--bundle', h.bundle((s) => {
      s.root = { path: rootfs, readonly: true };
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.noNewPrivileges = nnp;
      s.process!.args = ['/bin/euid'];
    }), h.id()]);
    expect(r).toMatchObject({ status: 0, stdout: `${expected}\n` });
  });
});
