// The one error type of rootfs-tools. The CLI prints `message` as one line, so
// every message names what it is about (a blob digest, a layer, a tar entry)
// and never spans lines.
import { OciError, type OciErrorCode } from '../../dist/errors.js';

/**
 * ERR_INVALID_IMAGE and ERR_UNSAFE_ENTRY as documented in OciErrorCode;
 * ERR_NOT_SUPPORTED for valid input ocirun cannot handle (sparse files, an
 * unknown compression); ERR_INVALID_ARGUMENT for bad flags or a bundle
 * directory that is in the way.
 */
export type UnpackErrorCode = Extract<OciErrorCode,
  'ERR_INVALID_IMAGE' | 'ERR_UNSAFE_ENTRY' | 'ERR_NOT_SUPPORTED' | 'ERR_INVALID_ARGUMENT' | 'ERR_INTERRUPTED'>;

export class UnpackError extends OciError {
  declare readonly code: UnpackErrorCode;

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
    return new UnpackError(err.code, `${context}: ${err.message}`, { cause: err.cause ?? err });
  }
  return new UnpackError(code, `${context}: ${errorText(err)}`, { cause: err });
}
