// `docker save` archives: manifest.json lists, per image, a config file named
// after its sha256 and the layer tars. Layer files are not content-addressed
// in the old format, so each layer is verified against the config's
// rootfs.diff_ids (the sha256 of the uncompressed tar) as it is applied.
import { checkMemberPath, isObject, parseDigest, readJson, type Digest, type ImageSource } from '../blobs.js';
import { UnpackError } from '../errors.js';
import { checkConfigPlatform, dockerNames, type WantedPlatform } from './platform.js';
import { layerLabel, type LayerRef, type ResolvedImage, type SelectOptions } from './types.js';

function invalid(message: string): UnpackError {
  return new UnpackError('ERR_INVALID_IMAGE', message);
}

/** "<hex>.json" (old format) or "blobs/sha256/<hex>" (Docker 25+): the name carries the digest. */
function digestInName(path: string): Digest | undefined {
  const m = /(?:^|\/)(?:(sha256|sha512)\/)?([a-f0-9]{64}|[a-f0-9]{128})(?:\.json)?$/.exec(path);
  if (!m) return undefined;
  const algorithm = m[1] === 'sha512' || m[2].length === 128 ? 'sha512' : 'sha256';
  return parseDigest(`${algorithm}:${m[2]}`, path);
}

interface Entry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function checkEntry(v: unknown, i: number): Entry {
  const what = `manifest.json[${i}]`;
  if (!isObject(v)) throw invalid(`${what}: not an object`);
  if (typeof v.Config !== 'string') throw invalid(`${what}: no "Config"`);
  if (!Array.isArray(v.Layers) || !v.Layers.every((l) => typeof l === 'string')) throw invalid(`${what}: "Layers" is not a list of paths`);
  const tags = Array.isArray(v.RepoTags) ? v.RepoTags.filter((t): t is string => typeof t === 'string') : [];
  return { Config: v.Config, RepoTags: tags, Layers: v.Layers as string[] };
}

function select(entries: Entry[], ref: string | undefined, label: string): Entry {
  if (ref === undefined) {
    if (entries.length === 1) return entries[0];
    const tags = entries.map((e) => e.RepoTags.join(' ') || e.Config).join(', ');
    throw new UnpackError('ERR_INVALID_ARGUMENT', `${label} holds ${entries.length} images (${tags}): choose one with --ref`);
  }
  const names = dockerNames(ref);
  const hex = ref.replace(/^sha256:/, '');
  const hit = entries.find(
    (e) => e.RepoTags.some((t) => dockerNames(t).some((n) => names.includes(n))) || (/^[a-f0-9]{12,64}$/.test(hex) && e.Config.includes(hex)),
  );
  if (!hit) {
    const tags = entries.flatMap((e) => e.RepoTags).join(', ');
    throw new UnpackError('ERR_INVALID_ARGUMENT', `${label}: no image tagged ${JSON.stringify(ref)} (tags: ${tags || 'none'})`);
  }
  return hit;
}

export async function resolveDockerSave(source: ImageSource, want: WantedPlatform, opts: SelectOptions): Promise<ResolvedImage> {
  const manifest = await readJson(source, 'manifest.json', 'manifest.json');
  if (!Array.isArray(manifest) || manifest.length === 0) throw invalid('manifest.json: not a non-empty list of images');
  const entry = select(manifest.map(checkEntry), opts.ref, source.label);

  const configPath = checkMemberPath(entry.Config, 'manifest.json Config');
  const configDigest = digestInName(configPath);
  if (!configDigest) throw invalid(`image config ${configPath}: its name is not a digest, so it cannot be verified`);
  const configId = `${configDigest.algorithm}:${configDigest.hex}`;
  const config = await readJson(source, configPath, `image config ${configId}`, { digest: configDigest });
  if (!isObject(config)) throw invalid(`image config ${configId}: not a JSON object`);
  checkConfigPlatform(config, want, `image ${configId}`, opts.warn);

  const rootfs = config.rootfs;
  const diffIds = isObject(rootfs) && Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids : undefined;
  if (!diffIds || diffIds.length !== entry.Layers.length) {
    throw invalid(`image config ${configId}: rootfs.diff_ids does not list the ${entry.Layers.length} layers of manifest.json`);
  }
  const n = entry.Layers.length;
  const layers: LayerRef[] = entry.Layers.map((p, i) => {
    const path = checkMemberPath(p, `manifest.json Layers[${i}]`);
    const diffId = parseDigest(diffIds[i], `image config ${configId} rootfs.diff_ids[${i}]`);
    const named = path.startsWith('blobs/') ? digestInName(path) : undefined;
    return { path, diffId, digest: named, label: layerLabel(i, n, `${diffId.algorithm}:${diffId.hex}`) };
  });
  return { format: 'docker', config, configDigest: configId, layers };
}
