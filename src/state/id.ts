// Container IDs name a directory under the state root, so they must be one clean
// path component; runc's rule ([A-Za-z0-9_+.-], not "." or "..") plus NAME_MAX.
import { OciError } from '../errors.js';

const ID_PATTERN = /^[A-Za-z0-9_+.-]+$/;
export const MAX_ID_LENGTH = 255;

export function validateId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new OciError('ERR_INVALID_ID', 'invalid container id: must not be empty');
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new OciError('ERR_INVALID_ID', `invalid container id: longer than ${MAX_ID_LENGTH} characters`);
  }
  if (id === '.' || id === '..' || !ID_PATTERN.test(id)) {
    throw new OciError('ERR_INVALID_ID', `invalid container id ${JSON.stringify(id)}: use only [A-Za-z0-9_+.-], not "." or ".."`);
  }
}
