// OCI image layout (image-spec image-layout.md): index.json → (nested
// indexes) → the manifest for the wanted platform and ref → config and
// layers. Every blob read here is verified against its descriptor.
import {
  blobPath, checkDescriptor, isObject, parseDigest, readJson, readJsonBlob, type Descriptor, type ImageSource,
} from '../blobs.js';
import { UnpackError } from '../errors.js';
import { checkConfigPlatform, dockerNames, formatPlatform, platformScore, type WantedPlatform } from './platform.js';
import { layerLabel, type LayerRef, type ResolvedImage, type SelectOptions } from './types.js';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);
const CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);
const LAYER_TYPE = /^application\/vnd\.(oci\.image\.layer(\.nondistributable)?\.v1\.tar(\+gzip|\+zstd)?|docker\.image\.rootfs\.(foreign\.)?diff\.tar(\.gzip|\.zstd)?)$/;

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';
const MAX_DEPTH = 4;

function invalid(message: string): UnpackError {
  return new UnpackError('ERR_INVALID_IMAGE', message);
}

interface Found {
  desc: Descriptor;
  doc: Record<string, unknown>;
}

function refOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME] ?? d.annotations?.[CONTAINERD_NAME];
}

function matchesRef(d: Descriptor, ref: string): boolean {
  if (d.digest === ref) return true;
  const names = dockerNames(ref);
  const own = [d.annotations?.[REF_NAME], d.annotations?.[CONTAINERD_NAME]].filter((x): x is string => typeof x === 'string');
  return own.some((n) => n === ref || dockerNames(n).some((x) => names.includes(x)));
}

/** Reads an index's children, recursing into nested indexes, and returns the image manifests. */
async function collectManifests(source: ImageSource, descs: Descriptor[], depth: number, out: Found[], ref?: string): Promise<void> {
  for (const desc of descs) {
    if (desc.mediaType !== undefined && !INDEX_TYPES.has(desc.mediaType) && !MANIFEST_TYPES.has(desc.mediaType)) continue;
    const what = desc.mediaType !== undefined && INDEX_TYPES.has(desc.mediaType) ? 'image index' : 'manifest';
    const doc = await readJsonBlob(source, desc, what);
    if (!isObject(doc)) throw invalid(`${what} ${desc.digest}: not a JSON object`);
    if (Array.isArray(doc.manifests)) {
      if (depth >= MAX_DEPTH) throw invalid(`image index ${desc.digest}: indexes nested too deeply`);
      const children = doc.manifests.map((m, i) => checkDescriptor(m, `image index ${desc.digest} manifests[${i}]`));
      // A digest given as --ref may name a manifest inside an index.
      const picked = ref !== undefined && children.some((c) => c.digest === ref) ? children.filter((c) => c.digest === ref) : children;
      await collectManifests(source, picked, depth + 1, out);
    } else {
      out.push({ desc, doc });
    }
  }
}

function choosePlatform(found: Found[], want: WantedPlatform, label: string): Found {
  let best: Found | undefined;
  let bestScore = 0;
  const unknown: Found[] = [];
  for (const f of found) {
    if (!f.desc.platform) {
      unknown.push(f);
      continue;
    }
    const s = platformScore(f.desc.platform, want);
    if (s > bestScore) {
      best = f;
      bestScore = s;
    }
  }
  if (best) return best;
  if (unknown.length === 1) return unknown[0];
  if (unknown.length > 1) throw new UnpackError('ERR_INVALID_ARGUMENT', `${label} holds ${unknown.length} manifests without a platform: choose one with --ref DIGEST`);
  const have = [...new Set(found.map((f) => formatPlatform(f.desc.platform ?? {})))].join(', ');
  throw new UnpackError('ERR_INVALID_ARGUMENT', `${label} has no image for ${formatPlatform(want)} (it has: ${have || 'none'}); choose with --platform`);
}

export async function resolveLayout(source: ImageSource, want: WantedPlatform, opts: SelectOptions): Promise<ResolvedImage> {
  if (source.size('oci-layout') !== undefined) {
    const layout = await readJson(source, 'oci-layout', 'oci-layout');
    const v = isObject(layout) ? layout.imageLayoutVersion : undefined;
    if (typeof v !== 'string' || !v.startsWith('1.')) throw invalid(`oci-layout: unsupported imageLayoutVersion ${JSON.stringify(v)}`);
  }
  const index = await readJson(source, 'index.json', 'index.json');
  if (!isObject(index) || !Array.isArray(index.manifests)) throw invalid('index.json: not an image index (no "manifests" array)');
  let top = index.manifests.map((m, i) => checkDescriptor(m, `index.json manifests[${i}]`));
  const ref = opts.ref;
  if (ref !== undefined) {
    const direct = top.filter((d) => matchesRef(d, ref));
    if (direct.length === 0 && !/^sha(256|512):/.test(ref)) {
      const refs = [...new Set(top.map(refOf).filter(Boolean))].join(', ');
      throw new UnpackError('ERR_INVALID_ARGUMENT', `${source.label}: no image with ref ${JSON.stringify(ref)} (refs: ${refs || 'none'})`);
    }
    if (direct.length > 0) top = direct;
  } else {
    const refs = [...new Set(top.map(refOf).filter((r): r is string => r !== undefined))];
    if (refs.length > 1) {
      throw new UnpackError('ERR_INVALID_ARGUMENT', `${source.label} holds several images (refs: ${refs.join(', ')}): choose one with --ref`);
    }
  }
  const found: Found[] = [];
  await collectManifests(source, top, 0, found, ref);
  if (ref !== undefined && /^sha(256|512):/.test(ref) && !top.some((d) => d.digest === ref)) {
    const exact = found.filter((f) => f.desc.digest === ref);
    if (exact.length === 0) throw new UnpackError('ERR_INVALID_ARGUMENT', `${source.label}: no manifest ${ref}`);
    found.splice(0, found.length, ...exact);
  }
  if (found.length === 0) throw invalid(`${source.label}: index.json lists no image manifest`);
  const chosen = choosePlatform(found, want, source.label);
  return fromManifest(source, chosen, want, opts);
}

async function fromManifest(source: ImageSource, { desc, doc }: Found, want: WantedPlatform, opts: SelectOptions): Promise<ResolvedImage> {
  const what = `manifest ${desc.digest}`;
  if (doc.schemaVersion !== 2) throw invalid(`${what}: schemaVersion is ${JSON.stringify(doc.schemaVersion)}, not 2`);
  if (typeof doc.mediaType === 'string' && !MANIFEST_TYPES.has(doc.mediaType)) throw invalid(`${what}: unsupported mediaType ${doc.mediaType}`);
  const configDesc = checkDescriptor(doc.config, `${what} config`);
  if (configDesc.mediaType !== undefined && !CONFIG_TYPES.has(configDesc.mediaType)) {
    throw new UnpackError('ERR_NOT_SUPPORTED', `${what}: not a container image (config media type ${configDesc.mediaType})`);
  }
  if (!Array.isArray(doc.layers)) throw invalid(`${what}: no "layers" array`);
  const layerDescs = doc.layers.map((l, i) => checkDescriptor(l, `${what} layers[${i}]`));
  const config = await readJsonBlob(source, configDesc, 'image config');
  if (!isObject(config)) throw invalid(`image config ${configDesc.digest}: not a JSON object`);
  if (!desc.platform) checkConfigPlatform(config, want, `image ${desc.digest}`, opts.warn);

  const layers: LayerRef[] = layerDescs.map((d, i) => {
    const label = layerLabel(i, layerDescs.length, d.digest);
    if (d.mediaType !== undefined && !LAYER_TYPE.test(d.mediaType)) {
      throw new UnpackError('ERR_NOT_SUPPORTED', `${label}: unsupported layer media type ${d.mediaType}`);
    }
    const digest = parseDigest(d.digest, label);
    return { path: blobPath(digest), digest, size: d.size, mediaType: d.mediaType, label };
  });
  return {
    format: 'oci',
    config,
    configDigest: configDesc.digest,
    manifestDigest: desc.digest,
    layers,
    platform: desc.platform,
  };
}
