// pause and resume: freeze and thaw the container's cgroup (cgroup.freeze on
// v2, the freezer controller on v1). `state` then reports "paused", derived
// from the cgroup itself, so a thaw by hand is seen too.
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { managerFor } from '../cgroups/index.js';
import { requireCgroup } from '../cgroups/container.js';
import { deriveStatus } from '../state/status.js';

export async function pauseContainer(ctx: RuntimeContext, id: string): Promise<void> {
  await ctx.store.withLock(id, async () => {
    const record = ctx.store.read(id);
    const status = deriveStatus(ctx.store, record);
    if (status === 'paused') throw new OciError('ERR_NOT_RUNNING', `container "${id}" is already paused`);
    // runc pauses created containers too: the waiting init is frozen with the rest.
    if (status !== 'running' && status !== 'created') {
      throw new OciError('ERR_NOT_RUNNING', `container "${id}" is not running (status ${status})`);
    }
    await managerFor(requireCgroup(record)).freeze();
    ctx.logger.debug(`pause ${id}: frozen`);
  });
}

export async function resumeContainer(ctx: RuntimeContext, id: string): Promise<void> {
  await ctx.store.withLock(id, async () => {
    const record = ctx.store.read(id);
    const status = deriveStatus(ctx.store, record);
    if (status !== 'paused') throw new OciError('ERR_NOT_RUNNING', `container "${id}" is not paused (status ${status})`);
    await managerFor(requireCgroup(record)).thaw();
    ctx.logger.debug(`resume ${id}: thawed`);
  });
}
