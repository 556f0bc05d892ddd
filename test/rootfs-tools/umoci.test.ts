// ocirun unpack against umoci: multi-layer images built offline with umoci
// (repack of a modified tree makes whiteouts; insert --opaque/--whiteout make
// opaque dirs and explicit whiteouts), unpacked by both, trees compared:
// paths, types, modes, owners, link targets, contents, devices, hard-link
// groups, xattrs and (for non-directories) mtimes.
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffSnapshots, has, isRoot, leftovers, makeTemp, removeTemp, snapshot, unpack } from './helpers.js';

const CAP_NET_RAW = '0x0100000200200000000000000000000000000000';

/**
 * Each script runs in the work dir with the layout at ./img; $R is the
 * bundle's rootfs. `layer` repacks and unpacks again: umoci repack builds on
 * the manifest the bundle was unpacked from, so without a fresh unpack a
 * second repack would replace the first layer instead of adding one.
 */
const IMAGES: Record<string, string> = {
  mixed: `
    T=mixed
    umoci new --image img:$T
    umoci unpack --image img:$T b >/dev/null
    R=b/rootfs
    mkdir -p $R/etc $R/usr/bin $R/usr/lib $R/var/tmp $R/data/keep $R/data/gone $R/opt $R/home/app
    printf 'root:x:0:0:root:/root:/bin/sh\\napp:x:1000:1000::/home/app:/bin/sh\\n' > $R/etc/passwd
    printf 'root:x:0:\\napp:x:1000:\\nstaff:x:50:app\\n' > $R/etc/group
    echo hello > $R/etc/hello; chown 1000:1000 $R/etc/hello; chmod 600 $R/etc/hello
    chown 1000:1000 $R/home/app; chmod 750 $R/home/app
    cp /bin/true $R/usr/bin/suid; chmod 4755 $R/usr/bin/suid
    setfattr -n security.capability -v ${CAP_NET_RAW} $R/usr/bin/suid
    cp /bin/true $R/usr/bin/sgid; chown 0:50 $R/usr/bin/sgid; chmod 2755 $R/usr/bin/sgid
    chmod 1777 $R/var/tmp
    ln -s ../../etc/hello $R/usr/bin/rel-link
    ln -s /etc/hello $R/usr/bin/abs-link
    ln -s /nonexistent $R/usr/bin/dangling
    ln -s usr/lib $R/lib
    ln $R/etc/hello $R/etc/hello-hard
    mknod $R/data/null c 1 3; mknod $R/data/loop b 7 0; mkfifo $R/data/fifo; chmod 620 $R/data/fifo
    setfattr -n user.note -v hello $R/etc/hello
    setfattr -n trusted.t -v 0xdeadbeef $R/data/keep
    head -c 3000000 /dev/urandom > $R/opt/big
    echo a > $R/data/gone/a; echo b > $R/data/keep/b; : > $R/data/empty
    layer
    rm -rf $R/data/gone; rm $R/etc/hello-hard $R/usr/bin/dangling
    echo new > $R/lib/via-symlink
    chmod 700 $R/data/keep; echo changed >> $R/etc/hello
    rm -rf $R/opt; ln -s /data $R/opt
    rm $R/usr/bin/rel-link; mkdir $R/usr/bin/rel-link; echo x > $R/usr/bin/rel-link/x
    layer
    rm -rf $R/usr/bin/rel-link; echo file > $R/usr/bin/rel-link
    setfattr -x user.note $R/etc/hello; setfattr -n user.other -v v $R/etc/hello
    touch -d '2001-02-03 04:05:06' $R/data/keep/b
    ln $R/usr/bin/suid $R/usr/bin/suid-hard
    layer
  `,
  insert: `
    umoci new --image img:insert
    mkdir -p s1/a/b s2/x s3; echo 1 > s1/a/b/f; echo 2 > s1/a/g; echo 3 > s2/x/y; echo 4 > s3/z
    ln -s a/g s1/link
    umoci insert --image img:insert s1 /srv >/dev/null
    umoci insert --image img:insert s3 /srv/a/more >/dev/null
    umoci insert --image img:insert --opaque s2 /srv/a >/dev/null
    umoci insert --image img:insert --whiteout /srv/a/x/y >/dev/null
    umoci insert --image img:insert --whiteout /srv/link >/dev/null
    umoci insert --image img:insert s1 /srv/a/again >/dev/null
  `,
  system: `
    T=system
    umoci new --image img:$T
    umoci unpack --image img:$T b >/dev/null
    R=b/rootfs
    cp -a /etc $R/etc
    mkdir -p $R/usr/share; cp -a /usr/share/zoneinfo $R/usr/share/zoneinfo
    layer
    rm -rf $R/usr/share/zoneinfo/America $R/etc/apt
    find $R/usr/share/zoneinfo/Europe -type f -name 'B*' -exec chmod 600 {} +
    chown -R 123:456 $R/usr/share/zoneinfo/Asia
    cp -a /usr/share/doc/bash $R/usr/share/zoneinfo/America
    layer
  `,
};

describe.skipIf(!isRoot || !has('umoci') || !has('setfattr'))('ocirun unpack matches umoci unpack', () => {
  let work: string;
  beforeAll(() => {
    work = makeTemp('umoci');
    execFileSync('umoci', ['init', '--layout', 'img'], { cwd: work });
    for (const script of Object.values(IMAGES)) {
      const prelude = 'layer() { umoci repack --image img:$T b >/dev/null; rm -rf b; umoci unpack --image img:$T b >/dev/null; }\n';
      execFileSync('sh', ['-ec', prelude + script], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
      execFileSync('rm', ['-rf', 'b'], { cwd: work });
    }
  }, 180_000);
  afterAll(() => removeTemp(work));

  it.each(Object.keys(IMAGES))('image %s', async (name) => {
    const ours = join(work, `ocirun-${name}`);
    const theirs = join(work, `umoci-${name}`);
    execFileSync('umoci', ['unpack', '--image', `img:${name}`, theirs], { cwd: work, stdio: 'ignore' });
    const r = await unpack(join(work, `img:${name}`), ours);
    expect(r.format).toBe('oci');
    expect(r.layers).toBeGreaterThanOrEqual(2);

    const a = snapshot(join(ours, 'rootfs'));
    const b = snapshot(join(theirs, 'rootfs'));
    expect(diffSnapshots(a, b)).toEqual([]);
    expect(a.size).toBeGreaterThan(5);

    // mtimes, to the second, of everything but directories (whose times depend on when children were added).
    const mismatched: string[] = [];
    for (const [path, node] of a) {
      if (node.type === 'dir') continue;
      const ta = Math.floor(lstatSync(join(ours, 'rootfs', path)).mtimeMs / 1000);
      const tb = Math.floor(lstatSync(join(theirs, 'rootfs', path)).mtimeMs / 1000);
      if (ta !== tb) mismatched.push(`${path}: ${ta} != ${tb}`);
    }
    expect(mismatched).toEqual([]);
    expect(leftovers(work)).toEqual([]);

    // The conversion of the (default umoci) image config.
    const config = JSON.parse(readFileSync(join(ours, 'config.json'), 'utf8'));
    expect(config.root.path).toBe('rootfs');
    expect(config.annotations['org.opencontainers.image.architecture']).toBeTypeOf('string');
  }, 120_000);

  it('the mixed image has what the comparison is meant to cover', () => {
    const root = join(work, 'ocirun-mixed', 'rootfs');
    const s = snapshot(root);
    expect(s.get('usr/bin/suid')).toMatchObject({ mode: 0o4755 });
    expect(s.get('usr/bin/suid')?.xattrs).toContain('security.capability=');
    expect(s.get('usr/bin/sgid')).toMatchObject({ mode: 0o2755, gid: 50 });
    expect(s.get('var/tmp')).toMatchObject({ mode: 0o1777 });
    expect(s.get('data/null')).toMatchObject({ type: 'char' });
    expect(s.get('data/loop')).toMatchObject({ type: 'block' });
    expect(s.get('data/fifo')).toMatchObject({ type: 'fifo', mode: 0o620 });
    expect(s.get('data/keep')?.xattrs).toContain('trusted.t=0xdeadbeef');
    expect(s.get('etc/hello')?.xattrs).toBe('user.other=0x76');
    expect(s.get('usr/lib/via-symlink')).toMatchObject({ type: 'file' });
    expect(s.get('opt')).toMatchObject({ type: 'symlink', link: '/data' });
    expect(s.get('usr/bin/rel-link')).toMatchObject({ type: 'file' });
    expect(s.get('usr/bin/suid-hard')?.nlinkGroup).toBe(s.get('usr/bin/suid')?.nlinkGroup);
    expect(s.has('data/gone')).toBe(false);
    expect(s.has('etc/hello-hard')).toBe(false);
    expect(s.has('usr/bin/dangling')).toBe(false);
    const ins = snapshot(join(work, 'ocirun-insert', 'rootfs'));
    expect([...ins.keys()].filter((k) => k.startsWith('srv/a/')).sort()).toEqual(
      ['srv/a/again', 'srv/a/again/a', 'srv/a/again/a/b', 'srv/a/again/a/b/f', 'srv/a/again/a/g', 'srv/a/again/link', 'srv/a/x'],
    );
    expect(ins.has('srv/link')).toBe(false);
  });
});
