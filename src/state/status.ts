// A container's status is derived from the live system each time it is asked:
// the init's identity (pid + start time), whether it is still the helper, and
// whether exec.fifo still exists.
import type { ContainerRecord, StateStore } from './store.js';
import { isInitHelper, isSameLiveProcess } from './proc.js';
import { isFrozen } from '../cgroups/paused.js';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export function deriveStatus(store: StateStore, record: ContainerRecord): Status {
  if (record.pid === 0) {
    // Still being made, unless the process making it has died: then it is a wreck
    // that only delete --force clears.
    return isSameLiveProcess(record.creatorPid, record.creatorStartTime) ? 'creating' : 'stopped';
  }
  if (!isSameLiveProcess(record.pid, record.pidStartTime)) return 'stopped';
  // Paused (created or running) while its cgroup is frozen.
  if (record.cgroup && isFrozen(record.cgroup)) return 'paused';
  // Created means still the helper waiting on the fifo; once it has execve'd the
  // container runs, even if a start that died left the fifo behind.
  return store.hasFifo(record.id) && isInitHelper(record.pid) ? 'created' : 'running';
}
