// The one error type of rootfs-tools. The CLI prints `message` as one line, so
// every message names what it is about (a blob digest, a layer, a tar entry)
// and never spans lines.

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

/**
 * rootfs-tools stands on its own (it imports nothing from the runtime), so
 * this is not an OciError; it has the same shape (code, a one-line message,
 * exitCode 1), which is all the CLI reads.
 */
export class UnpackError extends Error {
  readonly code: UnpackErrorCode;
  readonly exitCode = 1;

  constructor(code: UnpackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, ' '), options);
    this.name = new.target.name;
    this.code = code;
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
    return new UnpackError(err.code, `${context}: ${err.message}`, { cause: err.cause ?? err });
  }
  return new UnpackError(code, `${context}: ${errorText(err)}`, { cause: err });
}
