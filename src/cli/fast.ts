// The CLI's fast path. Engines run create, start, state, kill and delete for
// every container, and for state, start, kill and delete loading commander is
// most of what ocirun adds above Node's own start-up (docs/performance.md has
// the numbers). This parser takes only the plain, unambiguous forms of those
// commands and of run, and hands anything
// else (help, unknown or repeated flags, values that look like flags, other
// commands) to the commander CLI, which therefore still defines the syntax and
// every error message.
import { createContext, type RuntimeContext } from '../context.js';
import { Logger, type LogFormat } from '../log.js';
import { failureExitCode, reportError } from './report.js';
import type { CreateFlags, RunFlags } from './hot.js';

interface Globals { root?: string; log?: string; logFormat: LogFormat; debug: boolean }

type Hot =
  | { cmd: 'state' | 'start'; id: string }
  | { cmd: 'kill'; id: string; signal: string }
  | { cmd: 'delete'; id: string; force: boolean }
  | { cmd: 'create'; id: string; flags: CreateFlags }
  | { cmd: 'run'; id: string; flags: RunFlags };

const VALUE_FLAGS = new Set(['--root', '--log', '--log-format']);

const isValue = (s: string | undefined): s is string => s !== undefined && s !== '' && !s.startsWith('-');

/** The hot command argv names, or undefined if commander should parse it. */
export function parseHot(argv: readonly string[]): { globals: Globals; hot: Hot } | undefined {
  const globals: Globals = { logFormat: 'text', debug: false };
  const seen = new Set<string>();
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-'); i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (seen.has(name)) return undefined;
    seen.add(name);
    if (name === '--debug' && eq < 0) {
      globals.debug = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) return undefined;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (!isValue(value)) return undefined;
    if (name === '--root') globals.root = value;
    else if (name === '--log') globals.log = value;
    else if (value === 'text' || value === 'json') globals.logFormat = value;
    else return undefined;
  }
  const [cmd, ...rest] = argv.slice(i);
  if (cmd === 'delete') {
    const force = rest.filter((a) => a === '-f' || a === '--force');
    const ids = rest.filter((a) => a !== '-f' && a !== '--force');
    if (force.length > 1 || ids.length !== 1 || !isValue(ids[0])) return undefined;
    return { globals, hot: { cmd, id: ids[0], force: force.length === 1 } };
  }
  if ((cmd === 'state' || cmd === 'start') && rest.length === 1 && isValue(rest[0])) {
    return { globals, hot: { cmd, id: rest[0] } };
  }
  if (cmd === 'kill' && (rest.length === 1 || rest.length === 2) && rest.every(isValue)) {
    return { globals, hot: { cmd, id: rest[0], signal: rest[1] ?? 'SIGTERM' } };
  }
  if (cmd === 'create' || cmd === 'run') {
    const parsed = parseCreate(rest, cmd === 'run');
    if (!parsed) return undefined;
    return cmd === 'run'
      ? { globals, hot: { cmd, id: parsed.id, flags: parsed.flags } }
      : { globals, hot: { cmd, id: parsed.id, flags: { bundle: parsed.flags.bundle, pidFile: parsed.flags.pidFile, noPivot: parsed.flags.noPivot } } };
  }
  return undefined;
}

/** create/run flags without the process I/O ones (those go to commander). */
function parseCreate(args: readonly string[], run: boolean): { id: string; flags: RunFlags } | undefined {
  const flags: RunFlags = { bundle: '.', noPivot: false, detach: false, keep: false };
  const seen = new Set<string>();
  let id: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    let name = eq > 0 ? arg.slice(0, eq) : arg;
    if (name === '-b') name = '--bundle';
    if (name === '-d') name = '--detach';
    if (!arg.startsWith('-')) {
      if (id !== undefined || arg === '') return undefined;
      id = arg;
      continue;
    }
    if (seen.has(name)) return undefined;
    seen.add(name);
    if (name === '--bundle' || name === '--pid-file') {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (!isValue(value)) return undefined;
      if (name === '--bundle') flags.bundle = value;
      else flags.pidFile = value;
    } else if (eq < 0 && name === '--no-pivot') {
      flags.noPivot = true;
    } else if (eq < 0 && run && name === '--detach') {
      flags.detach = true;
    } else if (eq < 0 && run && name === '--keep') {
      flags.keep = true;
    } else {
      return undefined;
    }
  }
  return id === undefined ? undefined : { id, flags };
}

/** The exit code of a hot command that succeeded (run: the container's). */
async function runHot(ctx: RuntimeContext, hot: Hot): Promise<number> {
  switch (hot.cmd) {
    case 'create': {
      const [{ createCommand }, { listenFdsFromEnv }] = await Promise.all([import('./hot.js'), import('../io/process-io.js')]);
      await createCommand(ctx, hot.id, hot.flags, { listenFds: listenFdsFromEnv() });
      return 0;
    }
    case 'run': {
      const [{ runCommand }, { listenFdsFromEnv }] = await Promise.all([import('./hot.js'), import('../io/process-io.js')]);
      return runCommand(ctx, hot.id, hot.flags, { listenFds: listenFdsFromEnv() });
    }
    case 'state': {
      const { printState } = await import('./hot.js');
      printState(ctx, hot.id);
      return 0;
    }
    case 'start': {
      const { startContainer } = await import('../lifecycle/start.js');
      await startContainer(ctx, hot.id);
      return 0;
    }
    case 'kill': {
      const { killContainer } = await import('../lifecycle/kill.js');
      await killContainer(ctx, hot.id, hot.signal);
      return 0;
    }
    case 'delete': {
      const { deleteContainer } = await import('../lifecycle/delete.js');
      await deleteContainer(ctx, hot.id, { force: hot.force });
      return 0;
    }
  }
}

/** The exit code, or undefined when argv is not a hot command (run the commander CLI). */
export async function fastMain(argv: readonly string[]): Promise<number | undefined> {
  const parsed = parseHot(argv);
  if (!parsed) return undefined;
  const { globals: g, hot } = parsed;
  const logger = new Logger({ file: g.log, format: g.logFormat, debug: g.debug });
  try {
    return await runHot(createContext({ root: g.root, logger, debug: g.debug }), hot);
  } catch (err) {
    reportError(err, logger);
    return failureExitCode(err);
  }
}
