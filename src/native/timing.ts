// Phase names of the timestamps spawnContainer returns with `timing` (mirror
// of native/common/timing.h; keep the two in step), and their order.

export const PHASES: Readonly<Record<number, string>> = Object.freeze({
  1: 'spawn.begin',
  2: 'helper.sealed',
  3: 'helper.started',
  4: 'ready.received',
  10: 'helper.main',
  11: 'plan.decoded',
  12: 'namespaces.joined',
  13: 'init.cloned',
  14: 'id.mapped',
  20: 'init.running',
  21: 'root.prepared',
  22: 'mounts.done',
  23: 'devices.done',
  24: 'pivoted',
  25: 'hardened',
  26: 'exec.resolved',
});

/** One timestamp: CLOCK_MONOTONIC nanoseconds, the clock of process.hrtime.bigint(). */
export interface Mark { phase: string; ns: bigint }

/** Names the raw [phase, ns] pairs and sorts them by time; unknown phases keep their number. */
export function namedMarks(raw: ReadonlyArray<readonly [number, bigint]>): Mark[] {
  return raw
    .map(([id, ns]) => ({ phase: PHASES[id] ?? `phase.${id}`, ns }))
    .sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
}

/** Collects marks on the TypeScript side, merged with the addon's and the helper's. */
export class PhaseTimer {
  private readonly marks: Mark[] = [];

  mark(phase: string): void {
    this.marks.push({ phase, ns: process.hrtime.bigint() });
  }

  add(raw: ReadonlyArray<readonly [number, bigint]> | undefined): void {
    if (raw) this.marks.push(...namedMarks(raw));
  }

  /** All marks so far, in time order. */
  result(): Mark[] {
    return [...this.marks].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  }
}
