// spec: writes the default config.json, refusing to overwrite one (as runc does).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSpec } from '../config/default-spec.js';
import { OciError } from '../errors.js';
import { writeFileAtomic } from '../state/store.js';

export function writeDefaultSpec(bundle: string, opts: { rootless?: boolean } = {}): string {
  const file = join(resolve(bundle), 'config.json');
  if (existsSync(file)) {
    throw new OciError('ERR_INVALID_ARGUMENT', `${file} already exists: remove it first`);
  }
  writeFileAtomic(file, JSON.stringify(defaultSpec({ rootless: opts.rootless }), null, '\t') + '\n');
  return file;
}
