// Compression is recognised by magic bytes, not by media type: Docker labels
// uncompressed layer.tar files "tar.gzip", and plain rootfs tarballs have no
// media type at all. gzip uses Node's zlib. zstd uses zlib where Node has it
// (22.15+), otherwise the zstd command (Debian package zstd): no maintained
// pure-JS decoder is fast enough to be worth a dependency. xz and bzip2 (seen
// in plain rootfs tarballs) use their commands too.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex, PassThrough, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { UnpackError } from './errors.js';

export type Compression = 'none' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** How many leading bytes sniff() wants. */
export const SNIFF_BYTES = 6;

export function sniff(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  if (head.length >= 6 && head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'BZh') return 'bzip2';
  return 'none';
}

/** Output chunk size: bigger chunks mean fewer callbacks per megabyte written. */
const CHUNK = 256 * 1024;

type ZlibWithZstd = typeof zlib & { createZstdDecompress?: (o?: object) => Transform };

const COMMANDS: Record<'zstd' | 'xz' | 'bzip2', { cmd: string; pkg: string }> = {
  zstd: { cmd: 'zstd', pkg: 'zstd' },
  xz: { cmd: 'xz', pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', pkg: 'bzip2' },
};

/** A stream that turns compressed bytes into the tar stream. */
export function decompressor(kind: Compression): Duplex {
  switch (kind) {
    case 'none':
      return new PassThrough({ highWaterMark: CHUNK });
    case 'gzip':
      return zlib.createGunzip({ chunkSize: CHUNK });
    case 'zstd': {
      const z = zlib as ZlibWithZstd;
      if (typeof z.createZstdDecompress === 'function') return z.createZstdDecompress({ chunkSize: CHUNK });
      return commandDecompressor('zstd');
    }
    default:
      return commandDecompressor(kind);
  }
}

/** Wraps `CMD -dc`; a non-zero exit (with its last stderr line) becomes the stream's error. */
class CommandDecompressor extends Duplex {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  private exited = false;

  constructor(private readonly kind: 'zstd' | 'xz' | 'bzip2') {
    super({ readableHighWaterMark: CHUNK });
    const { cmd, pkg } = COMMANDS[kind];
    const child = spawn(cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (this.stderr.length < 4096) this.stderr += s;
    });
    child.stdout.on('data', (c: Buffer) => {
      if (!this.push(c)) child.stdout.pause();
    });
    // EPIPE when the command died early: its exit status is the better message.
    child.stdin.on('error', () => {});
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.exited = true;
      this.destroy(
        err.code === 'ENOENT'
          ? new UnpackError(
              'ERR_NOT_SUPPORTED',
              `${kind} layers not supported here: Node ${process.versions.node} has no ${kind} decoder and the ${cmd} command is missing (apt-get install ${pkg})`,
            )
          : err,
      );
    });
    // 'close' comes after the exit and after stdout's EOF: only then is the verdict known.
    child.on('close', (code, signal) => {
      this.exited = true;
      if (code === 0) {
        this.push(null);
        return;
      }
      const why = this.stderr.trim().split('\n').pop() || (signal ? `killed by ${signal}` : `exit status ${code}`);
      this.destroy(new UnpackError('ERR_INVALID_IMAGE', `${this.kind} data is corrupt or truncated (${cmd}: ${why})`));
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.child.stdin.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin.end();
    cb();
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.exited) this.child.kill('SIGKILL');
    cb(err);
  }
}

function commandDecompressor(kind: 'zstd' | 'xz' | 'bzip2'): Duplex {
  return new CommandDecompressor(kind);
}

/** Maps zlib's terse errors to a sentence a user can act on. */
export function describeStreamError(kind: Compression, err: unknown): string | undefined {
  const e = err as { code?: string; message?: string };
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return `${kind} data is corrupt or truncated (${e.message})`;
  }
  if (e?.code === 'ERR_ZLIB_INITIALIZATION_FAILED') return `${kind} decoder failed to start`;
  return undefined;
}
