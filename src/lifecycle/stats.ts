// events and events --stats: resource usage from the container's cgroup in
// runc's shape, every interval, and an "oom" event whenever the kernel
// OOM-kills a process in it (memory.events oom_kill on v2, memory.oom_control
// oom_kill on v1; the counter is polled, so a burst of kills within one poll
// still yields one event per kill). The stream ends when the container stops.
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import { managerFor, type CgroupManager } from '../cgroups/index.js';
import { requireCgroup } from '../cgroups/container.js';
import type { Stats } from '../cgroups/stats.js';
import { deriveStatus } from '../state/status.js';
import type { ContainerRecord } from '../state/store.js';

export interface CgroupEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: Stats;
}

/** How often the OOM counter and the container's liveness are looked at. */
const POLL_MS = 100;

function liveManager(ctx: RuntimeContext, id: string): { record: ContainerRecord; manager: CgroupManager } {
  const record = ctx.store.read(id);
  if (deriveStatus(ctx.store, record) === 'stopped') throw new OciError('ERR_NOT_RUNNING', `container "${id}" is not running`);
  return { record, manager: managerFor(requireCgroup(record)) };
}

export function containerStats(ctx: RuntimeContext, id: string): Stats {
  return liveManager(ctx, id).manager.stats();
}

export interface EventsOptions {
  /** Between stats events, in ms (runc's --interval, default 5 s). */
  intervalMs?: number;
  signal?: AbortSignal;
}

export async function* containerEvents(ctx: RuntimeContext, id: string, opts: EventsOptions = {}): AsyncGenerator<CgroupEvent> {
  const interval = opts.intervalMs ?? 5000;
  if (!(interval > 0)) throw new OciError('ERR_INVALID_ARGUMENT', 'events: the interval must be positive');
  const { record, manager } = liveManager(ctx, id);
  let ooms = manager.oomKills();
  let next = Date.now() + interval;
  for (;;) {
    if (opts.signal?.aborted) return;
    const now = manager.oomKills();
    for (; ooms < now; ooms++) yield { type: 'oom', id };
    // After the counter: an OOM kill that stopped the container is still reported.
    if (!manager.exists() || deriveStatus(ctx.store, record) === 'stopped') return;
    if (Date.now() >= next) {
      yield { type: 'stats', id, data: manager.stats() };
      // A consumer slower than the interval gets the next sample one interval later, not a burst.
      next = next + interval > Date.now() ? next + interval : Date.now() + interval;
    }
    await pause(Math.min(POLL_MS, Math.max(1, next - Date.now())), opts.signal);
  }
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Go-style durations as runc takes them: "5s", "100ms", "1m30s", "1.5s". */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text)) !== null) {
    ms += Number(m[1]) * unit[m[2]];
    end = re.lastIndex;
  }
  if (text === '' || end !== text.length || !(ms > 0)) {
    throw new OciError('ERR_INVALID_ARGUMENT', `invalid duration "${text}": use e.g. 5s, 500ms or 1m`);
  }
  return ms;
}
