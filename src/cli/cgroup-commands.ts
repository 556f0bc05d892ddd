// The cgroup commands, flags as runc spells them: pause, resume, ps, events,
// update. Parsing only; the work is in src/lifecycle/{pause,ps,stats,update}.ts.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { print } from './report.js';
import { resolve } from 'node:path';
import type { Caller } from '../caller.js';
import type { RuntimeContext } from '../context.js';
import { OciError } from '../errors.js';
import type { LinuxResources } from '../oci/types.js';


export function registerCgroupCommands(program: Command, ctx: () => RuntimeContext): void {
  program.command('pause')
    .description('suspend every process in the container (freezes its cgroup)')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { pauseContainer } = await import('../lifecycle/pause.js');
      await pauseContainer(ctx(), id);
    });

  program.command('resume')
    .description('resume every process of a paused container')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { resumeContainer } = await import('../lifecycle/pause.js');
      await resumeContainer(ctx(), id);
    });

  program.command('ps')
    .description('list the processes in the container (extra arguments go to ps(1), default -ef)')
    .argument('<container-id>')
    .argument('[ps-args...]')
    .option('-f, --format <format>', 'table or json', 'table')
    // `ps ID -o pid,comm`: what follows the ID is ps(1)'s, as with runc.
    .passThroughOptions()
    .action(async (id: string, psArgs: string[], o: { format: string }) => {
      const { containerPids, psTable } = await import('../lifecycle/ps.js');
      if (o.format !== 'table' && o.format !== 'json') throw new OciError('ERR_INVALID_ARGUMENT', `invalid format "${o.format}": use table or json`);
      if (o.format === 'json' && psArgs.length > 0) throw new OciError('ERR_INVALID_ARGUMENT', 'ps arguments cannot be used with --format json');
      if (psArgs[0] === '--') psArgs = psArgs.slice(1);
      const pids = containerPids(ctx(), id);
      print(ctx(), o.format === 'json' ? `${JSON.stringify(pids)}\n` : psTable(pids, psArgs));
    });

  program.command('events')
    .description('print resource usage (every --interval) and OOM events as JSON lines until the container stops')
    .argument('<container-id>')
    .option('--interval <duration>', 'time between stats events', '5s')
    .option('--stats', 'print one stats event and exit', false)
    .action(async (id: string, o: { interval: string; stats: boolean }) => {
      const { containerEvents, containerStats, parseDuration } = await import('../lifecycle/stats.js');
      const { toJson } = await import('../cgroups/stats.js');
      const intervalMs = parseDuration(o.interval);
      if (o.stats) {
        print(ctx(), `${toJson({ type: 'stats', id, data: containerStats(ctx(), id) })}\n`);
        return;
      }
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        for await (const e of containerEvents(ctx(), id, { intervalMs, signal: abort.signal })) print(ctx(), `${toJson(e)}\n`);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });

  program.command('update')
    .description('change the resource limits of a running container')
    .argument('<container-id>')
    .option('-r, --resources <file>', 'a JSON linux.resources object ("-" for stdin); the flags below are then not allowed')
    .option('--memory <bytes>', 'memory limit (k, m, g suffixes; -1 for none)')
    .option('--memory-swap <bytes>', 'memory plus swap limit (-1 for none)')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--kernel-memory <bytes>', 'ignored, as by the kernel (accepted for runc compatibility)')
    .option('--kernel-memory-tcp <bytes>', 'ignored, as by the kernel (accepted for runc compatibility)')
    .option('--cpu-quota <us>', 'CFS quota per period in microseconds (-1 for none)')
    .option('--cpu-period <us>', 'CFS period in microseconds')
    .option('--cpu-rt-period <us>', 'realtime period in microseconds (cgroup v1)')
    .option('--cpu-rt-runtime <us>', 'realtime runtime in microseconds (cgroup v1)')
    .option('--cpu-share <shares>', 'relative CPU weight (v1 shares, converted on v2)')
    .option('--cpu-shares <shares>', 'same as --cpu-share')
    .option('--cpuset-cpus <list>', 'CPUs to run on, e.g. 0-1')
    .option('--cpuset-mems <list>', 'memory nodes to use, e.g. 0')
    .option('--pids-limit <n>', 'maximum number of processes (-1 for none)')
    .option('--blkio-weight <n>', 'block I/O weight, 10 to 1000')
    .action(async (id: string, o: UpdateFlags) => {
      const { updateContainer } = await import('../lifecycle/update.js');
      const c = ctx();
      for (const w of await updateContainer(c, id, resourcesFromFlags(o, c.caller))) c.logger.warn(w);
    });
}

export interface UpdateFlags {
  resources?: string;
  memory?: string;
  memorySwap?: string;
  memoryReservation?: string;
  kernelMemory?: string;
  kernelMemoryTcp?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpuShare?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
  blkioWeight?: string;
}

/** The linux.resources change `update` asks for: the -r file, or what the flags say. */
export function resourcesFromFlags(o: UpdateFlags, caller: Pick<Caller, 'cwd' | 'stdio'> = { cwd: process.cwd(), stdio: [0, 1, 2] }): LinuxResources {
  const flags = Object.entries(o).filter(([k, v]) => k !== 'resources' && v !== undefined);
  if (o.resources !== undefined) {
    if (flags.length > 0) throw new OciError('ERR_INVALID_ARGUMENT', `--resources cannot be combined with --${kebab(flags[0][0])}`);
    return readResources(o.resources, caller);
  }
  if (flags.length === 0) throw new OciError('ERR_INVALID_ARGUMENT', 'update: nothing to change (give --resources or a limit flag)');
  const r: LinuxResources = {};
  const memory = (): NonNullable<LinuxResources['memory']> => (r.memory ??= {});
  const cpu = (): NonNullable<LinuxResources['cpu']> => (r.cpu ??= {});
  if (o.memory !== undefined) memory().limit = bytes('--memory', o.memory);
  if (o.memorySwap !== undefined) memory().swap = bytes('--memory-swap', o.memorySwap);
  if (o.memoryReservation !== undefined) memory().reservation = bytes('--memory-reservation', o.memoryReservation);
  // Recorded and reported as ignored, as the kernel no longer limits kernel memory.
  if (o.kernelMemory !== undefined) memory().kernel = bytes('--kernel-memory', o.kernelMemory);
  if (o.kernelMemoryTcp !== undefined) memory().kernelTCP = bytes('--kernel-memory-tcp', o.kernelMemoryTcp);
  if (o.cpuQuota !== undefined) cpu().quota = int('--cpu-quota', o.cpuQuota, -1);
  if (o.cpuPeriod !== undefined) cpu().period = int('--cpu-period', o.cpuPeriod, 0);
  if (o.cpuRtPeriod !== undefined) cpu().realtimePeriod = int('--cpu-rt-period', o.cpuRtPeriod, 0);
  if (o.cpuRtRuntime !== undefined) cpu().realtimeRuntime = int('--cpu-rt-runtime', o.cpuRtRuntime, -1);
  const shares = o.cpuShares ?? o.cpuShare;
  if (shares !== undefined) cpu().shares = int(o.cpuShares !== undefined ? '--cpu-shares' : '--cpu-share', shares, 0);
  if (o.cpusetCpus !== undefined) cpu().cpus = o.cpusetCpus;
  if (o.cpusetMems !== undefined) cpu().mems = o.cpusetMems;
  if (o.pidsLimit !== undefined) r.pids = { limit: int('--pids-limit', o.pidsLimit, -1) };
  if (o.blkioWeight !== undefined) r.blockIO = { weight: int('--blkio-weight', o.blkioWeight, 0) };
  return r;
}

const kebab = (s: string): string => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** "-" is the caller's stdin (in the daemon: the front end's, not ours); a path is relative to its cwd. */
function readResources(file: string, caller: Pick<Caller, 'cwd' | 'stdio'>): LinuxResources {
  let text: string;
  try {
    text = readFileSync(file === '-' ? caller.stdio[0] : resolve(caller.cwd, file), 'utf8');
  } catch (err) {
    throw new OciError('ERR_INVALID_ARGUMENT', `--resources ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new OciError('ERR_INVALID_ARGUMENT', `--resources ${file}: invalid JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OciError('ERR_INVALID_ARGUMENT', `--resources ${file}: must be a JSON object (linux.resources)`);
  }
  return value as LinuxResources;
}

function int(flag: string, text: string, min: number): number {
  if (!/^-?\d+$/.test(text.trim()) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    throw new OciError('ERR_INVALID_ARGUMENT', `${flag}: invalid value "${text}" (an integer${min >= 0 ? ' >= 0' : ', or -1'})`);
  }
  return Number(text);
}

/** docker/go-units RAMInBytes as runc uses it: binary multiples, "-1" for unlimited. */
export function bytes(flag: string, text: string): number {
  const t = text.trim();
  if (t === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(t);
  if (!m) throw new OciError('ERR_INVALID_ARGUMENT', `${flag}: invalid size "${text}" (e.g. 512m, 1g, 1048576 or -1)`);
  const mult = 1024 ** ' kmgtp'.indexOf((m[2] ?? ' ').toLowerCase());
  const value = Math.floor(Number(m[1]) * mult);
  if (!Number.isSafeInteger(value)) throw new OciError('ERR_INVALID_ARGUMENT', `${flag}: size "${text}" is too large`);
  return value;
}
