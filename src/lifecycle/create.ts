// create: validate everything first, then claim the ID, then let the helper
// build the container. Any failure after the claim undoes all of it, so a
// failed create leaves no state dir, process or mount behind.
import { chmodSync } from 'node:fs';
import { resolve } from 'node:path';
import type { RuntimeContext } from '../context.js';
import { loadBundle } from '../config/load.js';
import { encodePlan } from '../native/plan.js';
import { helperPath, native } from '../native/binding.js';
import { buildInitPlan } from './plan.js';
import { validateId } from '../state/id.js';
import { readProcStat } from '../state/proc.js';
import { EXEC_FIFO, writeFileAtomic, type ContainerRecord } from '../state/store.js';
import { killAndWait } from './process.js';
import { SystemError } from '../errors.js';
import { OCI_VERSION } from '../oci/tables.js';

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  /** fds that become the container's stdin, stdout, stderr; default 0, 1, 2. */
  stdio?: [number, number, number];
}

export interface Created {
  record: ContainerRecord;
  /** pidfd of the init, owned by the caller (close it). -1 if unavailable. */
  pidfd: number;
}

const selfStartTime = (): string => readProcStat(process.pid)?.startTime ?? '';

export async function createContainer(ctx: RuntimeContext, id: string, opts: CreateOptions): Promise<Created> {
  validateId(id);
  const { spec, bundle, rootfs, warnings } = await loadBundle(resolve(opts.bundle));
  for (const w of warnings) ctx.logger.warn(w);
  const { store } = ctx;
  const stateDir = store.dir(id);
  const plan = buildInitPlan(spec, { bundle, rootfs, stateDir, noPivot: opts.noPivot ?? false, debug: ctx.debug });
  const planBytes = encodePlan(plan);
  const addon = native();
  const helper = helperPath();

  store.claim(id);
  let pidfd = -1;
  let pid = 0;
  try {
    return await store.withLock(id, async () => {
      addon.mkfifo(store.fifoPath(id), 0o622);
      // Past the umask: a user-namespaced init writes to it as an unprivileged host uid.
      chmodSync(store.fifoPath(id), 0o622);
      const record: ContainerRecord = {
        ociVersion: OCI_VERSION,
        id,
        pid: 0,
        pidStartTime: '',
        creatorPid: process.pid,
        creatorStartTime: selfStartTime(),
        bundle,
        rootfs,
        created: new Date().toISOString(),
        owner: '',
        annotations: spec.annotations ?? {},
        config: spec,
      };
      store.write(record);
      ctx.logger.debug(`create ${id}: starting init helper`);
      let spawned;
      try {
        spawned = await addon.spawnContainer({ helper, plan: planBytes, stdio: opts.stdio ?? [0, 1, 2] });
      } catch (err) {
        throw SystemError.from(err, 'spawn');
      }
      pid = spawned.pid;
      pidfd = spawned.pidfd;
      for (const w of spawned.warnings) ctx.logger.warn(w);
      const stat = readProcStat(pid);
      if (!stat) throw new Error(`container init (pid ${pid}) exited during create`);
      record.pid = pid;
      record.pidStartTime = stat.startTime;
      store.write(record);
      if (opts.pidFile) writeFileAtomic(resolve(opts.pidFile), String(pid));
      ctx.logger.debug(`create ${id}: init pid ${pid} waiting on ${EXEC_FIFO}`);
      return { record, pidfd };
    });
  } catch (err) {
    if (pidfd >= 0) await killAndWait(pidfd);
    store.remove(id);
    throw err;
  }
}
