// The CRI tests' images, built here and imported (no registry): the test
// busybox, and a pause image around a static pause binary compiled from
// pause.c. Written as OCI image layouts, which `ctr images import` takes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUSYBOX_IMAGE = 'localhost/ocirun-cri-busybox:1';
export const PAUSE_IMAGE = 'localhost/ocirun-cri-pause:1';
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.error}`);
}

interface Blob { digest: string; size: number }

function putBlob(layout: string, data: Buffer): Blob {
  const hex = createHash('sha256').update(data).digest('hex');
  writeFileSync(join(layout, 'blobs', 'sha256', hex), data);
  return { digest: `sha256:${hex}`, size: data.length };
}

/** An OCI layout tarball of one image: one uncompressed layer made from rootfs, the given config. */
function imageTarball(dir: string, name: string, rootfs: string, config: Record<string, unknown>): string {
  const layout = join(dir, `${name.replace(/[^a-z0-9]+/g, '-')}-layout`);
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const layerFile = join(dir, `${name.replace(/[^a-z0-9]+/g, '-')}-layer.tar`);
  run('tar', ['--numeric-owner', '-C', rootfs, '-cf', layerFile, '.']);
  const layer = putBlob(layout, readFileSync(layerFile));
  const cfg = putBlob(layout, Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config,
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = putBlob(layout, Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest,
      platform: { architecture: 'amd64', os: 'linux' },
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').at(-1) },
    }],
  }));
  const tarball = `${layout}.tar`;
  run('tar', ['-C', layout, '-cf', tarball, '.']);
  return tarball;
}

/** Both images as tarballs for `ctr images import`; busyboxRootfs is an already built test rootfs. */
export function buildImages(dir: string, busyboxRootfs: string): string[] {
  const pauseRoot = join(dir, 'pause-rootfs');
  mkdirSync(pauseRoot);
  run('gcc', ['-static', '-Os', '-s', '-o', join(pauseRoot, 'pause'), fileURLToPath(new URL('./pause.c', import.meta.url))]);
  return [
    imageTarball(dir, BUSYBOX_IMAGE, busyboxRootfs, { Env: [PATH_ENV], Cmd: ['sh'] }),
    imageTarball(dir, PAUSE_IMAGE, pauseRoot, { Env: [PATH_ENV], Entrypoint: ['/pause'] }),
  ];
}
