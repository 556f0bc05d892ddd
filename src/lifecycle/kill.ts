// kill: only a created or running container can be signalled (spec), and only
// the process we recorded, never whatever later reused its pid.
import { closeSync } from 'node:fs';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { native } from '../native/binding.js';
import { parseSignal } from '../oci/signals.js';
import { deriveStatus } from '../state/status.js';
import { openInit } from './process.js';

export async function killContainer(ctx: RuntimeContext, id: string, signal: string | number = 'SIGTERM'): Promise<void> {
  const signo = parseSignal(signal);
  const { store } = ctx;
  const record = store.read(id);
  const status = deriveStatus(store, record);
  if (status !== 'created' && status !== 'running') {
    throw new OciError('ERR_NOT_RUNNING', `container "${id}" is not running (status ${status})`);
  }
  const fd = openInit(record);
  if (fd < 0) throw new OciError('ERR_NOT_RUNNING', `container "${id}" is not running`);
  try {
    native().pidfdSendSignal(fd, signo);
  } finally {
    closeSync(fd);
  }
}
