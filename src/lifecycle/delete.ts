// delete: removes everything create made. Like runc, a created container is
// killed first (the spec would refuse), a running one only with --force.
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { deriveStatus } from '../state/status.js';
import { killAndWait, openInit, openPid } from './process.js';
import { helpersHolding } from '../state/proc.js';
import { crashPoint } from '../faults.js';
import { runPoststop } from '../hooks/lifecycle.js';
import { detachHostMounts } from '../rootfs/host-mounts.js';
import { removeCgroup, removeDefaultCgroupIfEmpty, signalCgroup } from '../cgroups/container.js';

export interface DeleteOptions { force?: boolean }

export async function deleteContainer(ctx: RuntimeContext, id: string, opts: DeleteOptions = {}): Promise<void> {
  const { store } = ctx;
  if (!store.exists(id)) {
    if (opts.force) return;
    store.read(id); // throws the not-found error
  }
  await store.withLock(id, async () => {
    let record;
    try {
      record = store.read(id);
    } catch (err) {
      // state.json lost or damaged by hand: the pid is unknown, but a waiting
      // init still holds the state directory open, which identifies it.
      if (opts.force && (err as OciError).code === 'ERR_STATE_CORRUPT') {
        for (const pid of helpersHolding(store.dir(id))) {
          const fd = openPid(pid);
          if (fd >= 0) await killAndWait(fd);
        }
        if (ctx.cgroupManager !== 'disabled') removeDefaultCgroupIfEmpty(id);
        store.remove(id);
        return;
      }
      throw err;
    }
    const status = deriveStatus(store, record);
    if ((status === 'running' || status === 'paused' || status === 'creating') && !opts.force) {
      throw new OciError('ERR_NOT_STOPPED', `cannot delete container "${id}" that is not stopped: ${status}`);
    }
    if (status !== 'stopped') {
      // Through the cgroup first: it reaches every process, and thaws a paused v1 container so SIGKILL lands.
      if (record.cgroup) await signalCgroup(record.cgroup, 9);
      const fd = openInit(record);
      if (fd >= 0) await killAndWait(fd);
      crashPoint(ctx, 'delete:killed');
    }
    // Leftovers (a container without its own pid namespace leaves its children) go with the cgroup.
    await removeCgroup(record.cgroup);
    if (record.hostMounts) detachHostMounts(record.hostMounts);
    store.remove(id);
    ctx.logger.debug(`delete ${id}: removed`);
    // After the container is gone, before delete returns; failures only warn.
    await runPoststop(record.config?.hooks, record, (m) => ctx.logger.warn(m), ctx.caller);
  }).catch((err) => {
    if (opts.force && (err as OciError).code === 'ERR_CONTAINER_NOT_FOUND') return;
    throw err;
  });
}
