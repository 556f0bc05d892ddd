// spec: writes the default config.json, refusing to overwrite one (as runc does).
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSpec } from '../config/default-spec.js';
import { OciError, SystemError } from '../errors.js';
import { writeFileAtomic } from '../state/store.js';

export function writeDefaultSpec(bundle: string, opts: { rootless?: boolean } = {}): string {
  const dir = resolve(bundle);
  const file = join(dir, 'config.json');
  if (existsSync(file)) {
    throw new OciError('ERR_INVALID_ARGUMENT', `${file} already exists: remove it first`);
  }
  try {
    // Made if missing, as the state root is.
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(defaultSpec({ rootless: opts.rootless }), null, '\t') + '\n');
  } catch (err) {
    const e = SystemError.from(err) as SystemError;
    if (!(e instanceof SystemError)) throw err;
    throw new SystemError({ code: e.code, errno: e.errno, syscall: e.syscall, path: dir, message: `spec: cannot write ${file} (${e.code})`, cause: err });
  }
  return file;
}
