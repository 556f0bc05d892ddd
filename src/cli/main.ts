// The ocirun command line: runc's commands, flags and exit codes. This file only
// parses arguments and calls the library; every decision lives in src/lifecycle.
import { Command, CommanderError, Option } from 'commander';
import { writeSync } from 'node:fs';
import { createContext, DEFAULT_ROOT, type RuntimeContext } from '../context.js';
import { Logger, type LogFormat } from '../log.js';
import { registerCommands } from './commands.js';
import { failureExitCode, reportError } from './report.js';
import { VERSION } from '../version.js';

interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: LogFormat;
  debug: boolean;
  cgroupManager?: 'cgroupfs' | 'systemd' | 'disabled';
  systemdCgroup?: boolean;
}

/** Commands that end with a status of their own (run, exec: the process's) report it here. */
export type SetExitCode = (code: number) => void;

function buildProgram(setExitCode: SetExitCode): { program: Command; context: () => RuntimeContext; logger: () => Logger } {
  const program = new Command('ocirun');
  program
    .description('ocirun: a low-level OCI container runtime')
    .version(VERSION, '-v, --version', 'print the version')
    .option('--root <dir>', 'root directory for container state', DEFAULT_ROOT)
    .option('--log <file>', 'write logs to this file (default: stderr)')
    .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
    .option('--debug', 'enable debug logging', false)
    // crun's flag; podman passes "disabled" for containers run with --cgroups=disabled.
    .addOption(new Option('--cgroup-manager <manager>', 'cgroup manager (crun compatible)').choices(['cgroupfs', 'systemd', 'disabled']))
    // runc's spelling of --cgroup-manager systemd; containerd's shim passes it with SystemdCgroup = true.
    .option('--systemd-cgroup', 'use the systemd cgroup manager (runc compatible)')
    .showSuggestionAfterError(false)
    // Global flags before the command, as runc takes them; exec passes the rest to its command.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => writeSync(1, s),
      writeErr: (s) => writeSync(2, s),
      outputError: (s, write) => write(s.startsWith('error: ') ? `ocirun: ${s.slice(7)}` : s),
    });
  let ctx: RuntimeContext | undefined;
  let log: Logger | undefined;
  const logger = (): Logger => {
    if (!log) {
      const g = program.opts<GlobalOptions>();
      log = new Logger({ file: g.log, format: g.logFormat, debug: g.debug });
    }
    return log;
  };
  const context = (): RuntimeContext => {
    if (!ctx) {
      const g = program.opts<GlobalOptions>();
      ctx = createContext({ root: g.root, logger: logger(), debug: g.debug, cgroupManager: g.systemdCgroup ? 'systemd' : g.cgroupManager });
    }
    return ctx;
  };
  registerCommands(program, context, setExitCode);
  return { program, context, logger };
}

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const { program, logger } = buildProgram((code) => { exitCode = code; });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; usage errors were already printed.
      return err.exitCode === 0 || err.code === 'commander.version' || err.code === 'commander.helpDisplayed' ? 0 : 1;
    }
    reportError(err, logger());
    return failureExitCode(err);
  }
}
