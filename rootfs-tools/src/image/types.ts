// What the format readers (layout.ts, docker.ts) hand to the unpacker: the
// layers to apply, in order, each with what its bytes must hash to.
import type { Digest, Platform } from '../blobs.js';

export interface LayerRef {
  /** Path of the blob inside the image source. */
  path: string;
  /** Digest and size of the stored (possibly compressed) bytes, when the format records them. */
  digest?: Digest;
  size?: number;
  /** Digest of the uncompressed tar (docker save has only this). */
  diffId?: Digest;
  mediaType?: string;
  /** For messages: "layer 2/3 (sha256:…)". */
  label: string;
}

export interface ResolvedImage {
  format: 'oci' | 'docker';
  /** The parsed image config (application/vnd.oci.image.config.v1+json). */
  config: Record<string, unknown>;
  configDigest: string;
  manifestDigest?: string;
  layers: LayerRef[];
  platform?: Platform;
}

export interface SelectOptions {
  ref?: string;
  warn: (message: string) => void;
}

export function layerLabel(i: number, n: number, id: string): string {
  return `layer ${i + 1}/${n} (${id})`;
}
