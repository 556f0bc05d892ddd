// What IMAGE is: an OCI layout or docker-save directory, the same packed in
// a tar (possibly compressed), or a plain rootfs tarball. Decided by content
// (index.json / manifest.json at the top), never by file name.
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TarSource, normalizeMemberName } from './archive.js';
import { DirSource, openRegular, type ImageSource } from './blobs.js';
import { decompressor, describeStreamError, SNIFF_BYTES, sniff, type Compression } from './decompress.js';
import { UnpackError, errorText, withContext } from './errors.js';
import { TarReader, tarSink } from './tar.js';

export type Detected =
  | { kind: 'oci' | 'docker'; source: ImageSource }
  /** A tarball of a root filesystem: applied as a single layer. */
  | { kind: 'rootfs'; source: ImageSource; path: string };

/** "dir:tag" when "dir:tag" itself does not exist but "dir" does (umoci and skopeo spell it so). */
export function splitImageRef(image: string): { path: string; ref?: string } {
  if (existsSync(image)) return { path: image };
  const i = image.lastIndexOf(':');
  if (i > 0 && !image.slice(i + 1).includes('/') && existsSync(image.slice(0, i))) {
    return { path: image.slice(0, i), ref: image.slice(i + 1) };
  }
  return { path: image };
}

function fromMembers(has: (name: string) => boolean): 'oci' | 'docker' | undefined {
  if (has('index.json')) return 'oci';
  if (has('manifest.json')) return 'docker';
  return undefined;
}

/** Top-level names an image archive holds; anything else means "a rootfs". */
const IMAGE_MEMBER = /^(oci-layout|index\.json|manifest\.json|repositories|blobs(\/.*)?|[a-f0-9]{64}(\.json|\/.*)?)$/;

class RootfsLike extends Error {}

/**
 * For a compressed file: reads member names (decompressing, skipping data)
 * until one shows it is a rootfs. An image archive is then decompressed to
 * `scratch` so its members can be read at their offsets.
 */
async function classifyCompressed(file: string, comp: Compression, label: string, signal?: AbortSignal): Promise<'oci' | 'docker' | 'rootfs'> {
  const names = new Set<string>();
  const reader = new TarReader((e) => {
    const n = normalizeMemberName(e.name);
    if (n === undefined || (n !== '' && !IMAGE_MEMBER.test(n))) throw new RootfsLike();
    if (n !== '') names.add(n);
    return null;
  });
  const sink = tarSink(reader);
  try {
    await pipeline(readInput(file, label), decompressor(comp), sink, { signal });
  } catch (err) {
    if (err instanceof RootfsLike) return 'rootfs';
    if ((err as Error).name === 'AbortError') throw err;
    throw new UnpackError('ERR_INVALID_IMAGE', `${label}: ${describeStreamError(comp, err) ?? errorText(err)}`);
  }
  return fromMembers((n) => names.has(n)) ?? 'rootfs';
}

function readInput(file: string, label: string): NodeJS.ReadableStream {
  return createReadStream('', { fd: openRegular(file, label), highWaterMark: 1024 * 1024 });
}

/** Opens IMAGE. `scratch` is a path in the unpack's temp dir for a decompressed image archive. */
export async function detectImage(path: string, scratch: string, signal?: AbortSignal): Promise<Detected> {
  const label = path;
  const abs = resolve(path);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) throw new UnpackError('ERR_INVALID_ARGUMENT', `image ${path} does not exist`);
  if (st.isDirectory()) {
    const source = new DirSource(abs, label);
    const kind = fromMembers((n) => source.size(n) !== undefined);
    if (!kind) throw new UnpackError('ERR_INVALID_IMAGE', `${label}: not an OCI image layout (no index.json) nor a docker save directory (no manifest.json)`);
    return { kind, source };
  }
  if (!st.isFile()) throw new UnpackError('ERR_INVALID_ARGUMENT', `image ${path} is neither a directory nor a file`);
  const comp = sniff(new DirSource(dirname(abs), label).head(basename(abs), SNIFF_BYTES));
  if (comp === 'none') {
    let source: TarSource;
    try {
      source = new TarSource(abs, label);
    } catch (err) {
      if (err instanceof UnpackError && err.message.startsWith('invalid tar header at offset 0:')) {
        throw new UnpackError('ERR_INVALID_IMAGE', `${label}: not an OCI layout, docker save archive or (compressed) tar file`);
      }
      throw withContext(err, label);
    }
    const kind = fromMembers((n) => source.has(n));
    if (kind) return { kind, source };
    source.close();
    return { kind: 'rootfs', source: new DirSource(dirname(abs), label), path: basename(abs) };
  }
  const kind = await classifyCompressed(abs, comp, label, signal);
  if (kind === 'rootfs') return { kind, source: new DirSource(dirname(abs), label), path: basename(abs) };
  try {
    await pipeline(readInput(abs, label), decompressor(comp), createWriteStream(scratch, { mode: 0o600 }), { signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new UnpackError('ERR_INVALID_IMAGE', `${label}: ${describeStreamError(comp, err) ?? errorText(err)}`);
  }
  return { kind, source: new TarSource(scratch, label) };
}
