// Input formats (OCI layout dir and tar, docker save, plain rootfs tarballs;
// gzip, zstd and uncompressed layers), image selection (--ref, --platform,
// nested indexes) and the image config → config.json conversion.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, lstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateSpec } from '../../src/config/validate.js';
import { ProgressBar } from '../../rootfs-tools/src/progress.js';
// @ts-expect-error plain JS module without types
import { buildBusyboxRootfs } from '../../scripts/default-bundle.mjs';
import { compress, diffSnapshots, has, leftovers, makeTemp, removeTemp, sha256, snapshot, tarArchive, writeDockerSave, writeLayout, type Entry, unpack } from './helpers.js';

const OCIRUN = fileURLToPath(new URL('../../bin/ocirun', import.meta.url));
const HOST_ARCH = process.arch === 'x64' ? 'amd64' : process.arch;
const OTHER_ARCH = HOST_ARCH === 'arm64' ? 'amd64' : 'arm64';

let work: string;
let n = 0;
const next = (tag: string): string => join(work, `${tag}${++n}`);
beforeAll(() => {
  work = makeTemp('formats');
});
afterAll(() => removeTemp(work));
afterEach(() => {
  expect(leftovers(work)).toEqual([]);
});

const BASE: Entry[] = [
  { name: './', type: 'dir', mode: 0o755 },
  { name: './etc/', type: 'dir' },
  { name: './etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n' },
  { name: './etc/group', data: 'root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nwheel:x:10:app\n' },
  { name: './bin/', type: 'dir' },
  { name: './bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
  { name: './gone/', type: 'dir' },
  { name: './gone/f', data: 'f' },
];
const TOP: Entry[] = [{ name: 'gone/.wh.f', data: '' }, { name: 'new', data: 'new\n' }];

const config = (b: string): any => JSON.parse(readFileSync(join(b, 'config.json'), 'utf8'));
const read = (b: string, p: string): string => readFileSync(join(b, 'rootfs', p), 'utf8');

function checkTwoLayers(bundle: string): void {
  expect(read(bundle, 'new')).toBe('new\n');
  expect(existsSync(join(bundle, 'rootfs/gone/f'))).toBe(false);
  expect(lstatSync(join(bundle, 'rootfs/bin/tool')).mode & 0o7777).toBe(0o755);
}

describe('input formats', () => {
  it.each<'gzip' | 'none' | 'zstd'>(['gzip', 'none', ...(has('zstd') ? ['zstd' as const] : [])])('OCI layout directory, %s layers', async (compression) => {
    const dir = next('oci');
    writeLayout(dir, { layers: [tarArchive(BASE), tarArchive(TOP)], compression });
    const b = next('bundle');
    const r = await unpack(dir, b);
    expect(r).toMatchObject({ format: 'oci', layers: 2 });
    checkTwoLayers(b);
    expect(validateSpec(config(b), { requireProcess: true }).problems).toEqual([]);
  });

  it.each([false, true])('OCI layout packed in a tar (gzipped: %s)', async (gz) => {
    const dir = next('oci');
    writeLayout(dir, { layers: [tarArchive(BASE), tarArchive(TOP)] });
    const tar = `${dir}.tar${gz ? '.gz' : ''}`;
    execFileSync('tar', ['-C', dir, gz ? '-czf' : '-cf', tar, '.']);
    const b = next('bundle');
    expect((await unpack(tar, b)).format).toBe('oci');
    checkTwoLayers(b);
  });

  it.each([false, true])('docker save archive (gzipped: %s)', async (gz) => {
    const file = next('docker');
    writeDockerSave(file, [tarArchive(BASE), tarArchive(TOP)], { tags: ['example/app:1.0'], config: { config: { Cmd: ['/bin/tool'] } } });
    if (gz) writeFileSync(file, gzipSync(readFileSync(file)));
    const b = next('bundle');
    const r = await unpack(file, b, { ref: 'example/app:1.0' });
    expect(r.format).toBe('docker');
    checkTwoLayers(b);
    expect(config(b).process.args).toEqual(['/bin/tool']);
  });

  it('docker save: a layer that does not match its diff_id is refused', async () => {
    const file = next('docker');
    const good = tarArchive(TOP);
    writeDockerSave(file, [tarArchive(BASE), good]);
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('new\n'));
    bytes[at] = 0x4e; // "New\n": same size, different content
    writeFileSync(file, bytes);
    const b = next('bundle');
    await expect(unpack(file, b)).rejects.toThrow(`layer 2/2 (sha256:${sha256(good)}) (uncompressed): content does not match its digest`);
    expect(existsSync(b)).toBe(false);
  });

  it('docker save: --ref must name a tag in the archive', async () => {
    const file = next('docker');
    writeDockerSave(file, [tarArchive(BASE)], { tags: ['example/app:1.0'] });
    await expect(unpack(file, next('bundle'), { ref: 'example/app:2.0' })).rejects.toThrow('no image tagged "example/app:2.0" (tags: example/app:1.0)');
  });

  it.each<'gzip' | 'none' | 'zstd'>(['none', 'gzip', ...(has('zstd') ? ['zstd' as const] : [])])('plain rootfs tarball (%s)', async (how) => {
    const file = next('rootfs');
    writeFileSync(file, compress(tarArchive(BASE), how));
    const b = next('bundle');
    const r = await unpack(file, b);
    expect(r.format).toBe('rootfs');
    expect(read(b, 'gone/f')).toBe('f');
    expect(config(b).process.args).toEqual(['sh']);
    expect(validateSpec(config(b), { requireProcess: true }).problems).toEqual([]);
  });

  it.skipIf(!existsSync('/usr/bin/busybox'))('the default busybox rootfs packed by GNU tar unpacks to the same tree', async () => {
    const src = next('busybox');
    await buildBusyboxRootfs(src);
    const file = `${src}.tar.gz`;
    execFileSync('tar', ['-C', src, '--xattrs', '-czf', file, '.']);
    const b = next('bundle');
    await unpack(file, b);
    expect(diffSnapshots(snapshot(join(b, 'rootfs')), snapshot(src))).toEqual([]);
  });

  it('a truncated gzipped rootfs tarball fails cleanly', async () => {
    const file = next('rootfs');
    const gz = gzipSync(tarArchive([...BASE, { name: 'big', data: Buffer.alloc(100_000, 1) }]));
    writeFileSync(file, gz.subarray(0, gz.length - 30));
    const b = next('bundle');
    await expect(unpack(file, b)).rejects.toThrow(/rootfs tarball .*: gzip data is corrupt or truncated/);
    expect(existsSync(b)).toBe(false);
  });
});

describe('image selection', () => {
  it('--ref, DIR:REF, and an error naming the refs when ambiguous', async () => {
    const dir = next('oci');
    writeLayout(dir, { layers: [tarArchive([{ name: 'which', data: 'a' }])], ref: 'a' });
    writeLayout(dir, { layers: [tarArchive([{ name: 'which', data: 'b' }])], ref: 'b' });
    await expect(unpack(dir, next('bundle'))).rejects.toThrow('holds several images (refs: a, b): choose one with --ref');
    await expect(unpack(dir, next('bundle'), { ref: 'c' })).rejects.toThrow('no image with ref "c" (refs: a, b)');
    const b1 = next('bundle');
    await unpack(dir, b1, { ref: 'b' });
    expect(read(b1, 'which')).toBe('b');
    const b2 = next('bundle');
    await unpack(`${dir}:a`, b2);
    expect(read(b2, 'which')).toBe('a');
  });

  it('picks linux/<host arch> from a nested index; --platform overrides', async () => {
    const dir = next('oci');
    const imgs = [HOST_ARCH, OTHER_ARCH].map((arch) =>
      writeLayout(`${dir}-${arch}`, { layers: [tarArchive([{ name: 'arch', data: arch }])], config: { architecture: arch } }),
    );
    // One layout holding both, behind an image index.
    execFileSync('sh', ['-c', `mkdir -p ${dir}/blobs/sha256 && cp ${dir}-*/blobs/sha256/* ${dir}/blobs/sha256/ && cp ${dir}-${HOST_ARCH}/oci-layout ${dir}/`]);
    const index = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [OTHER_ARCH, HOST_ARCH].map((arch) => {
        const m = imgs[arch === HOST_ARCH ? 0 : 1].manifest;
        const size = readFileSync(join(dir, 'blobs', ...m.split(':'))).length;
        return { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: m, size, platform: { os: 'linux', architecture: arch } };
      }),
    }));
    writeFileSync(join(dir, 'blobs/sha256', sha256(index)), index);
    writeFileSync(join(dir, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${sha256(index)}`, size: index.length, annotations: { 'org.opencontainers.image.ref.name': 'multi' } }],
    }));
    const b1 = next('bundle');
    await unpack(dir, b1);
    expect(read(b1, 'arch')).toBe(HOST_ARCH);
    const b2 = next('bundle');
    await unpack(dir, b2, { platform: `linux/${OTHER_ARCH}` });
    expect(read(b2, 'arch')).toBe(OTHER_ARCH);
    expect(config(b2).annotations['org.opencontainers.image.architecture']).toBe(OTHER_ARCH);
    await expect(unpack(dir, next('bundle'), { platform: 'linux/s390x' })).rejects.toThrow(/has no image for linux\/s390x \(it has: linux\/\w+, linux\/\w+\)/);
    await expect(unpack(dir, next('bundle'), { platform: 'linux//' })).rejects.toThrow('invalid --platform');
  });

  it('an image without platform info for another arch: warning, or error with an explicit --platform', async () => {
    const dir = next('oci');
    writeLayout(dir, { layers: [tarArchive([{ name: 'x', data: 'x' }])], config: { architecture: OTHER_ARCH } });
    const r = await unpack(dir, next('bundle'));
    expect(r.warnings.join('\n')).toContain(`is for linux/${OTHER_ARCH}, not linux/${HOST_ARCH}`);
    await expect(unpack(dir, next('bundle'), { platform: `linux/${HOST_ARCH}` })).rejects.toThrow(`is for linux/${OTHER_ARCH}`);
  });
});

describe('config.json from the image config', () => {
  async function convert(imageConfig: Record<string, unknown>, extra: Entry[] = []): Promise<any> {
    const dir = next('oci');
    writeLayout(dir, { layers: [tarArchive([...BASE, ...extra])], config: imageConfig });
    const b = next('bundle');
    await unpack(dir, b);
    return config(b);
  }

  it('follows the image-spec conversion rules on top of the ocirun spec defaults', async () => {
    const c = await convert({
      author: 'someone', created: '2024-01-02T03:04:05Z', architecture: HOST_ARCH, os: 'linux',
      config: {
        Entrypoint: ['/bin/tool', '--flag'], Cmd: ['arg'], Env: ['PATH=/custom/bin', 'FOO=bar'], WorkingDir: '/srv',
        User: 'app', ExposedPorts: { '80/tcp': {}, '53/udp': {} }, StopSignal: 'SIGQUIT',
        Labels: { 'com.example.x': 'y', 'org.opencontainers.image.author': 'label wins' },
      },
    });
    expect(c.process.args).toEqual(['/bin/tool', '--flag', 'arg']);
    expect(c.process.env).toEqual(['PATH=/custom/bin', 'FOO=bar', 'TERM=xterm']);
    expect(c.process.cwd).toBe('/srv');
    expect(c.process.user).toEqual({ uid: 1000, gid: 1001, additionalGids: [50, 10] });
    expect(c.annotations).toEqual({
      'org.opencontainers.image.os': 'linux',
      'org.opencontainers.image.architecture': HOST_ARCH,
      'org.opencontainers.image.author': 'label wins',
      'org.opencontainers.image.created': '2024-01-02T03:04:05Z',
      'org.opencontainers.image.stopSignal': 'SIGQUIT',
      'org.opencontainers.image.exposedPorts': '80/tcp,53/udp',
      'com.example.x': 'y',
    });
    expect(c.root).toEqual({ path: 'rootfs', readonly: true });
    expect(validateSpec(c, { requireProcess: true }).problems).toEqual([]);
  });

  it.each([
    ['app:staff', { uid: 1000, gid: 50 }],
    ['app:7', { uid: 1000, gid: 7 }],
    ['1000', { uid: 1000, gid: 1001 }],
    ['4242', { uid: 4242, gid: 0 }],
    ['4242:4343', { uid: 4242, gid: 4343 }],
    ['', { uid: 0, gid: 0 }],
  ])('User %j', async (user, want) => {
    expect((await convert({ config: { User: user } })).process.user).toEqual(want);
  });

  it('an unknown user or group is an error', async () => {
    await expect(convert({ config: { User: 'nobody' } })).rejects.toThrow(`image config: user "nobody" (User "nobody") is not in the rootfs's /etc/passwd`);
    await expect(convert({ config: { User: 'app:nogroup' } })).rejects.toThrow('group "nogroup"');
  });

  it("reads /etc/passwd inside the rootfs even when it is an absolute symlink", async () => {
    const c = await convert({ config: { User: 'svc' } }, [
      { name: 'etc/passwd', type: 'symlink', linkname: '/etc/real-passwd' },
      { name: 'etc/real-passwd', data: 'svc:x:321:654::/:/bin/sh\n' },
    ]);
    expect(c.process.user).toEqual({ uid: 321, gid: 654 });
  });
});

describe('the command line', () => {
  it('ocirun unpack --quiet prints nothing and makes a valid bundle', () => {
    const dir = next('oci');
    writeLayout(dir, { layers: [tarArchive(BASE), tarArchive(TOP)], ref: 'v1' });
    const b = next('bundle');
    const r = spawnSync(OCIRUN, ['unpack', '--quiet', `${dir}:v1`, b], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('');
    expect(r.status).toBe(0);
    checkTwoLayers(b);
    expect(lstatSync(b).mode & 0o777).toBe(0o700);
  });

  it('the progress bar draws layers and bytes, and erases itself', () => {
    const file = join(work, 'progress.out');
    const fd = openSync(file, 'w');
    try {
      const bar = new ProgressBar(fd, () => 80);
      bar.start(4 * 1024 * 1024, 2);
      bar.layer(0);
      bar.advance(1024 * 1024);
      bar.layer(1);
      bar.done();
    } finally {
      closeSync(fd);
    }
    const out = readFileSync(file, 'utf8');
    expect(out).toContain('0.0 MiB / 4.0 MiB  layer 1/2');
    expect(out).toContain('[##########..............................] 1.0 MiB / 4.0 MiB  layer 2/2');
    expect(out.endsWith('\r\x1b[K')).toBe(true);
  });
});
