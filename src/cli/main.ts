// The ocirun command line: runc's commands, flags and exit codes. This file only
// parses arguments and calls the library; every decision lives in src/lifecycle.
// The same code runs in the Node CLI (bin/ocirun-node) and, once per call, in
// the daemon behind the native front end (src/daemon): everything it takes
// from the caller comes from `caller`, never from `process`.
import { Command, CommanderError, Option } from 'commander';
import { writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { createContext, type RuntimeContext } from '../context.js';
import { ROOTLESS_SETTINGS, type RootlessSetting } from '../rootless/mode.js';
import { Logger, type LogFormat } from '../log.js';
import { registerCommands } from './commands.js';
import { failureExitCode, reportError } from './report.js';
import { VERSION } from '../version.js';
import { localCaller, type Caller } from '../caller.js';

interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  cgroupManager?: 'cgroupfs' | 'systemd' | 'disabled';
  systemdCgroup?: boolean;
  rootless: RootlessSetting;
}

/** Commands that end with a status of their own (run, exec: the process's) report it here. */
export type SetExitCode = (code: number) => void;

/**
 * Commands the daemon runs for a front end. The others keep a process of
 * their own for long (events) or load a separate project (unpack), so they
 * run in a fresh Node process, as the whole CLI did before the daemon.
 */
export const DAEMON_COMMANDS: ReadonlySet<string> = new Set([
  'create', 'start', 'run', 'state', 'kill', 'delete', 'exec', 'list', 'features', 'spec', 'pause', 'resume', 'ps', 'update',
]);

/** Thrown in the daemon for a command it leaves to the Node CLI (src/daemon/server.ts). */
export class RunInNode extends Error {}

function buildProgram(caller: Caller, setExitCode: SetExitCode): { program: Command; logger: () => Logger } {
  const program = new Command('ocirun');
  program
    .description('ocirun: a low-level OCI container runtime')
    .version(VERSION, '-v, --version', 'print the version')
    .option('--root <dir>', 'root directory for container state (default /run/ocirun; without root $XDG_RUNTIME_DIR/ocirun)')
    .option('--log <file>', 'write logs to this file (default: stderr)')
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--debug', 'enable debug logging', false)
    // crun's flag; podman passes "disabled" for containers run with --cgroups=disabled.
    .addOption(new Option('--cgroup-manager <manager>', 'cgroup manager (crun compatible)').choices(['cgroupfs', 'systemd', 'disabled']))
    // runc's spelling of --cgroup-manager systemd; containerd's shim passes it with SystemdCgroup = true.
    .option('--systemd-cgroup', 'use the systemd cgroup manager (runc compatible)')
    // Read by the native front end; here it only has to be accepted.
    .option('--no-engine', 'run this call in a fresh Node process, not the resident daemon')
    // runc's flag: how to treat cgroups the caller may not write (docs/rootless.md).
    .addOption(new Option('--rootless <value>', 'ignore cgroup permission errors (true, false or auto)').choices(ROOTLESS_SETTINGS).default('auto'))
    .showSuggestionAfterError(false)
    // Global flags before the command, as runc takes them; exec passes the rest to its command.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => writeSync(caller.stdio[1], s),
      writeErr: (s) => writeSync(caller.stdio[2], s),
      outputError: (s, write) => write(s.startsWith('error: ') ? `ocirun: ${s.slice(7)}` : s),
    });
  if (caller.remote) {
    program.hook('preAction', (_program, action) => {
      if (!DAEMON_COMMANDS.has(action.name())) throw new RunInNode(`"${action.name()}" runs in Node`);
    });
  }
  let ctx: RuntimeContext | undefined;
  let log: Logger | undefined;
  const logger = (): Logger => {
    if (!log) {
      const g = program.opts<GlobalOptions>();
      log = new Logger({ file: g.log === undefined ? undefined : resolve(caller.cwd, g.log), format: g.logFormat, debug: g.debug, stderr: caller.stdio[2] });
    }
    return log;
  };
  const context = (): RuntimeContext => {
    if (!ctx) {
      const g = program.opts<GlobalOptions>();
      ctx = createContext({ root: g.root, logger: logger(), debug: g.debug, cgroupManager: g.systemdCgroup ? 'systemd' : g.cgroupManager, rootless: g.rootless, caller });
    }
    return ctx;
  };
  registerCommands(program, context, setExitCode);
  return { program, logger };
}

/** Runs one command line; resolves with its exit code. */
export async function main(argv: string[], caller: Caller = localCaller()): Promise<number> {
  let exitCode = 0;
  const { program, logger } = buildProgram(caller, (code) => { exitCode = code; });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof RunInNode) throw err;
    if (err instanceof CommanderError) {
      // Help and version are not failures; usage errors were already printed.
      return err.exitCode === 0 || err.code === 'commander.version' || err.code === 'commander.helpDisplayed' ? 0 : 1;
    }
    reportError(err, logger(), caller.stdio[2]);
    return failureExitCode(err);
  }
}
