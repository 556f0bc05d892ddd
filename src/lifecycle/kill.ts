// kill: only a created or running container can be signalled (spec), and only
// the process we recorded, never whatever later reused its pid.
import { closeSync } from 'node:fs';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { native } from '../native/binding.js';
import { parseSignal } from '../oci/signals.js';
import { deriveStatus } from '../state/status.js';
import { openInit } from './process.js';
import { requireCgroup, signalCgroup } from '../cgroups/container.js';

export interface KillOptions {
  /** Every process in the container's cgroup, not only the init (runc's --all). */
  all?: boolean;
}

export async function killContainer(ctx: RuntimeContext, id: string, signal: string | number = 'SIGTERM', opts: KillOptions = {}): Promise<void> {
  const signo = parseSignal(signal);
  const { store } = ctx;
  const record = store.read(id);
  const status = deriveStatus(store, record);
  // With --all a stopped container may still have processes (its init's children, without a pid namespace).
  if (opts.all && status !== 'creating') {
    await signalCgroup(requireCgroup(record), signo);
    return;
  }
  if (status !== 'created' && status !== 'running' && status !== 'paused') {
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
