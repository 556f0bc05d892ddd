// The public API: unpack(IMAGE, BUNDLE_DIR) builds rootfs/ and config.json in
// a temp dir beside BUNDLE_DIR and renames it into place only when everything
// (every blob verified, every layer applied, the config converted) worked, so
// a failure leaves BUNDLE_DIR as it was and removes the temp dir.
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestOf, VerificationError, VerifyingStream, type ImageSource } from './blobs.js';
import { runtimeConfig, type RuntimeConfig } from './config.js';
import { decompressor, describeStreamError, SNIFF_BYTES, sniff } from './decompress.js';
import { detectImage, splitImageRef } from './detect.js';
import { UnpackError, withContext } from './errors.js';
import { resolveDockerSave } from './image/docker.js';
import { resolveLayout } from './image/layout.js';
import { hostPlatform, parsePlatform } from './image/platform.js';
import type { LayerRef, ResolvedImage } from './image/types.js';
import { finishDirectories, forgetDirectories, LayerApplier, type UnpackState } from './layer.js';
import { ProgressBar, type ProgressSink } from './progress.js';
import { removeTree, RootFs } from './safe-fs.js';
import { TarReader, tarSink } from './tar.js';

export { UnpackError, type UnpackErrorCode } from './errors.js';
export type { RuntimeConfig } from './config.js';
export type { ProgressSink } from './progress.js';

export interface UnpackOptions {
  /** Tag (org.opencontainers.image.ref.name, a docker RepoTag) or manifest digest to pick. */
  ref?: string;
  /** os/arch[/variant]; default linux/<this machine's arch>. */
  platform?: string;
  /** Where progress goes; none by default. */
  progress?: ProgressSink;
  /** Non-fatal notes (skipped device nodes, platform mismatch). They are also returned. */
  warn?: (message: string) => void;
  /** Aborting stops the unpack (cleanly: the temp dir is removed). */
  signal?: AbortSignal;
  /** The config.json to start from: the runtime's defaults, which the image's config then overrides. */
  spec: RuntimeConfig;
}

export interface UnpackResult {
  bundle: string;
  rootfs: string;
  config: string;
  format: 'oci' | 'docker' | 'rootfs';
  manifestDigest?: string;
  configDigest?: string;
  layers: number;
  entries: number;
  warnings: string[];
}

const TEMP_INFIX = '.unpack-';

/** Temp dirs of unpacks killed more than 10 minutes ago (SIGKILL, power loss). */
function removeStaleTemps(parent: string, prefix: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const st = lstatSync(join(parent, name), { throwIfNoEntry: false });
    if (st?.isDirectory() && Date.now() - st.mtimeMs > 10 * 60 * 1000) removeTree(join(parent, name));
  }
}

function checkBundleDir(bundle: string): void {
  const st = lstatSync(bundle, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory() || readdirSync(bundle).length > 0) {
    throw new UnpackError('ERR_INVALID_ARGUMENT', `bundle directory ${bundle} already exists and is not empty; not replacing it`);
  }
}

class ByteCounter extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

async function applyLayer(source: ImageSource, layer: LayerRef, state: UnpackState, progress: ProgressSink | undefined, signal?: AbortSignal): Promise<void> {
  if (source.size(layer.path) === undefined) {
    throw new UnpackError('ERR_INVALID_IMAGE', `${layer.label}: blob is missing from ${source.label} (no ${layer.path})`);
  }
  const comp = sniff(source.head(layer.path, SNIFF_BYTES));
  const onBytes = (n: number): void => progress?.advance(n);
  const applier = new LayerApplier(state, layer.label);
  const reader = new TarReader(applier.onEntry);
  // finish runs only after every upstream stream, digest checks included, ended cleanly.
  const sink = tarSink(reader, { highWaterMark: 1024 * 1024, finish: () => { reader.finish(); applier.finish(); } });
  const streams: NodeJS.ReadWriteStream[] = [
    layer.digest ? new VerifyingStream(layer.digest, layer.size, layer.label, onBytes) : new ByteCounter(onBytes),
    decompressor(comp),
  ];
  if (layer.diffId) streams.push(new VerifyingStream(layer.diffId, undefined, `${layer.label} (uncompressed)`));
  try {
    await pipeline([source.stream(layer.path), ...streams, sink], { signal });
  } catch (err) {
    applier.abort();
    if ((err as Error).name === 'AbortError') throw new UnpackError('ERR_INTERRUPTED', 'unpack interrupted');
    // A corrupt blob usually trips the decompressor or the tar parser before
    // the digest check at its end: report the real cause when it is that.
    if (layer.digest && !(err instanceof VerificationError)) {
      const got = await digestOf(source, layer.path, layer.digest.algorithm).catch(() => undefined);
      if (got !== undefined && got !== layer.digest.hex) {
        throw new UnpackError('ERR_INVALID_IMAGE', `${layer.label}: content does not match its digest (got ${layer.digest.algorithm}:${got})`, { cause: err });
      }
    }
    const described = describeStreamError(comp, err);
    throw withContext(described ? new UnpackError('ERR_INVALID_IMAGE', described, { cause: err }) : err, layer.label);
  }
}

/** Unpacks IMAGE into BUNDLE_DIR (rootfs/ + config.json). */
export async function unpack(image: string, bundleDir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    opts.warn?.(m);
  };
  const split = splitImageRef(image);
  if (split.ref !== undefined && opts.ref !== undefined) {
    throw new UnpackError('ERR_INVALID_ARGUMENT', `image ${image} names a ref and --ref ${opts.ref} names another`);
  }
  const ref = opts.ref ?? split.ref;
  const want = opts.platform !== undefined ? parsePlatform(opts.platform) : hostPlatform();
  const bundle = resolve(bundleDir);
  checkBundleDir(bundle);

  const parent = dirname(bundle);
  const madeParent = mkdirSync(parent, { recursive: true });
  const prefix = `.${basename(bundle)}${TEMP_INFIX}`;
  removeStaleTemps(parent, prefix);
  const tmp = mkdtempSync(join(parent, prefix));
  const scratch = join(tmp, 'image.tar');
  let source: ImageSource | undefined;
  try {
    const detected = await detectImage(split.path, scratch, opts.signal);
    source = detected.source;
    let resolved: ResolvedImage | undefined;
    let layers: LayerRef[];
    if (detected.kind === 'rootfs') {
      if (ref !== undefined) throw new UnpackError('ERR_INVALID_ARGUMENT', `${split.path} is a plain rootfs tarball: it has no refs`);
      layers = [{ path: detected.path, label: `rootfs tarball ${split.path}` }];
    } else {
      const select = { ref, warn };
      resolved = detected.kind === 'oci' ? await resolveLayout(source, want, select) : await resolveDockerSave(source, want, select);
      layers = resolved.layers;
    }

    const rootfsDir = join(tmp, 'rootfs');
    mkdirSync(rootfsDir);
    chmodSync(rootfsDir, 0o755);
    const fs = new RootFs(rootfsDir);
    const state: UnpackState = {
      fs, isRoot: process.geteuid?.() === 0, dirMeta: new Map(), warn, entries: 0, skippedDevices: 0,
    };
    fs.onRemovedDir = (rel) => forgetDirectories(state, rel);
    const sizes = layers.map((l) => source?.size(l.path));
    opts.progress?.start(sizes.every((n) => n !== undefined) ? sizes.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) : undefined, layers.length);
    for (let i = 0; i < layers.length; i++) {
      opts.progress?.layer(i);
      await applyLayer(source, layers[i], state, opts.progress, opts.signal);
    }
    if (state.skippedDevices > 0) warn(`${state.skippedDevices} device node(s) not created (creating them needs root)`);
    rmSync(scratch, { force: true });

    const base = structuredClone(opts.spec);
    base.root = { ...(base.root ?? {}), path: 'rootfs' };
    // Before the directory modes: a 0500 directory would stop a rootless cleanup on failure.
    const spec = resolved ? runtimeConfig(base, resolved.config, fs) : base;
    finishDirectories(state);
    const configPath = join(tmp, 'config.json');
    writeFileSync(configPath, `${JSON.stringify(spec, null, 2)}\n`, { mode: 0o644 });
    opts.signal?.throwIfAborted();
    try {
      renameSync(tmp, bundle);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
        throw new UnpackError('ERR_INVALID_ARGUMENT', `bundle directory ${bundle} appeared meanwhile; not replacing it`);
      }
      throw err;
    }
    return {
      bundle,
      rootfs: join(bundle, 'rootfs'),
      config: join(bundle, 'config.json'),
      format: detected.kind,
      manifestDigest: resolved?.manifestDigest,
      configDigest: resolved?.configDigest,
      layers: layers.length,
      entries: state.entries,
      warnings,
    };
  } catch (err) {
    // Whatever failed, the temp dir goes; a failure to remove it must not hide why the unpack failed.
    try {
      removeTree(tmp);
    } catch (cleanupErr) {
      warn(`could not remove ${tmp}: ${(cleanupErr as Error).message}`);
    }
    if (madeParent) removeMadeDirs(parent, madeParent);
    if ((err as Error)?.name === 'AbortError') throw new UnpackError('ERR_INTERRUPTED', 'unpack interrupted');
    throw err;
  } finally {
    source?.close();
    opts.progress?.done();
  }
}

/** Undoes mkdir -p: removes the (now empty) directories it made, deepest first. */
function removeMadeDirs(deepest: string, first: string): void {
  for (let d = deepest; d.length >= first.length; d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return;
    }
    if (d === first) return;
  }
}

export interface UnpackCommandOptions {
  ref?: string;
  platform?: string;
  quiet?: boolean;
  /** UnpackOptions.spec. */
  spec: RuntimeConfig;
}

/** Signals that end an unpack: each one, and every repeat (a second Ctrl-C), aborts cleanly instead of killing us mid-cleanup. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * `ocirun unpack`: a progress bar when stderr is a terminal (unless quiet),
 * warnings on stderr, SIGINT/SIGTERM/SIGHUP abort cleanly. Prints nothing on success.
 */
export async function runUnpackCommand(image: string, bundle: string, o: UnpackCommandOptions): Promise<UnpackResult> {
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  const tty = !o.quiet && process.stderr.isTTY;
  try {
    return await unpack(image, bundle, {
      spec: o.spec,
      ref: o.ref,
      platform: o.platform,
      signal: controller.signal,
      progress: tty ? new ProgressBar(2, () => process.stderr.columns ?? 80) : undefined,
      warn: o.quiet ? undefined : (m) => process.stderr.write(`ocirun: warning: ${m}\n`),
    });
  } finally {
    for (const sig of STOP_SIGNALS) process.removeListener(sig, onSignal);
  }
}
