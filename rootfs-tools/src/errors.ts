// The one error type of rootfs-tools. The CLI prints `message` as one line, so
// every message names what it is about (a blob digest, a layer, a tar entry)
// and never spans lines.
import { OciError } from '../../dist/errors.js';

export type UnpackErrorCode =
  /** Missing, corrupt, truncated or malformed input: blobs, JSON, tar streams. */
  | 'ERR_INVALID_IMAGE'
  /** A layer entry that would write outside the rootfs, or through a link. */
  | 'ERR_UNSAFE_ENTRY'
  /** Valid input ocirun cannot handle (sparse files, an unknown compression). */
  | 'ERR_NOT_SUPPORTED'
  /** Bad flags or a bundle directory that is in the way. */
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_INTERRUPTED';

export class UnpackError extends OciError {
  constructor(code: UnpackErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message.replace(/\s*\n\s*/g, ' '), options);
  }
}

/** The message of anything thrown, on one line. */
export function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ');
}

/** Puts `context` (which blob, which entry) in front of an error, keeping UnpackErrors' codes. */
export function withContext(err: unknown, context: string, code: UnpackErrorCode = 'ERR_INVALID_IMAGE'): UnpackError {
  if (err instanceof UnpackError) {
    if (err.message.startsWith(context)) return err;
    return new UnpackError(err.code as UnpackErrorCode, `${context}: ${err.message}`, { cause: err.cause ?? err });
  }
  return new UnpackError(code, `${context}: ${errorText(err)}`, { cause: err });
}
