// state and list: the OCI state object plus runc's extra fields (rootfs, created, owner).
import type { RuntimeContext } from '../context.js';
import { deriveStatus, type Status } from '../state/status.js';
import type { ContainerRecord } from '../state/store.js';

export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function toState(ctx: RuntimeContext, record: ContainerRecord): ContainerState {
  const status = deriveStatus(ctx.store, record);
  const state: ContainerState = {
    ociVersion: record.ociVersion,
    id: record.id,
    // runc reports 0 once the process is gone: a stale pid could be anyone's.
    pid: status === 'stopped' ? 0 : record.pid,
    status,
    bundle: record.bundle,
    rootfs: record.rootfs,
    created: record.created,
    owner: record.owner,
  };
  if (record.annotations && Object.keys(record.annotations).length > 0) state.annotations = record.annotations;
  return state;
}

export function containerState(ctx: RuntimeContext, id: string): ContainerState {
  return toState(ctx, ctx.store.read(id));
}

/** Every container under the root; ones whose state cannot be read are skipped. */
export function listContainers(ctx: RuntimeContext): ContainerState[] {
  const out: ContainerState[] = [];
  for (const id of ctx.store.list()) {
    try {
      out.push(containerState(ctx, id));
    } catch {
      // A directory mid-create or mid-delete has no readable state: not listed, like runc.
    }
  }
  return out;
}
