// `exec`, and the process I/O flags create and run share with it, as runc
// spells them.
import { InvalidArgumentError, type Command } from 'commander';
import { ID_MAX, ID_RANGE } from '../config/schema.js';
import type { RuntimeContext } from '../context.js';
import { listenFdsFromEnv } from '../io/process-io.js';
import { OciError } from '../errors.js';
import type { SetExitCode } from './main.js';

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'];

function count(flag: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${flag} takes a non-negative integer`);
    return Number(v);
  };
}

const collect = (v: string, all: string[]): string[] => [...all, v];

export interface IoFlags { consoleSocket?: string; pidfdSocket?: string; preserveFds?: number; newKeyring: boolean }

/** --console-socket, --pidfd-socket, --preserve-fds, --no-new-keyring (create, run). */
export function withIoFlags(cmd: Command): Command {
  return cmd
    .option('--console-socket <path>', 'AF_UNIX socket that receives the pty master when process.terminal is true')
    .option('--pidfd-socket <path>', 'AF_UNIX socket that receives a pidfd of the container init')
    .option('--preserve-fds <n>', 'pass N more file descriptors (3, 4, ... after any LISTEN_FDS ones)', count('--preserve-fds'))
    // ocirun never makes a session keyring, so this is always in effect.
    .option('--no-new-keyring', 'do not create a new session keyring (the default in ocirun)');
}

export function ioOptions(o: IoFlags): { consoleSocket?: string; pidfdSocket?: string; preserveFds?: number } {
  return { consoleSocket: o.consoleSocket, pidfdSocket: o.pidfdSocket, preserveFds: o.preserveFds };
}

/** create and run also pass socket-activation fds on (LISTEN_FDS/LISTEN_PID naming this process). */
export function createIoOptions(o: IoFlags, ctx: RuntimeContext): ReturnType<typeof ioOptions> & { listenFds: number } {
  return { ...ioOptions(o), listenFds: listenFdsFromEnv(ctx.caller.env, ctx.caller.pid) };
}

interface ExecFlags extends IoFlags {
  process?: string;
  tty: boolean;
  detach: boolean;
  pidFile?: string;
  env: string[];
  cwd?: string;
  user?: string;
  additionalGids: string[];
  cap: string[];
  newPrivs: boolean;
  apparmor?: string;
  processLabel?: string;
  ignorePaused: boolean;
}

/** A uid or gid from a flag, refused with the flag's name when set*id() could not take it. */
function parseId(flag: string, v: string): number {
  const n = Number(v);
  if (n > ID_MAX) throw new InvalidArgumentError(`${flag} ${v}: out of range (${ID_RANGE})`);
  return n;
}

function parseUser(spec: string): { uid: number; gid?: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new InvalidArgumentError(`--user ${JSON.stringify(spec)}: expected uid[:gid] (numbers)`);
  return { uid: parseId('--user', m[1]), gid: m[2] === undefined ? undefined : parseId('--user', m[2]) };
}

function parseGids(list: string[]): number[] {
  return list.flatMap((v) => v.split(',')).map((g) => {
    if (!/^\d+$/.test(g)) throw new InvalidArgumentError(`--additional-gids ${JSON.stringify(g)}: not a number`);
    return parseId('--additional-gids', g);
  });
}

export function registerExecCommand(program: Command, ctx: () => RuntimeContext, setExitCode: SetExitCode): void {
  program.command('exec')
    .description('run a new process inside a created or running container')
    .argument('<container-id>')
    .argument('[command...]', 'the command and its arguments (or --process)')
    .option('-p, --process <file>', 'process.json: a whole OCI process object instead of the flags below')
    .option('-t, --tty', 'allocate a pseudo-TTY', false)
    .option('-d, --detach', 'return once the process has started', false)
    .option('--pid-file <file>', 'write the process pid to this file')
    .option('-e, --env <name=value>', 'set an environment variable (repeatable)', collect, [])
    .option('--cwd <dir>', 'working directory inside the container')
    .option('-u, --user <uid[:gid]>', 'numeric user (and group) to run as')
    .option('-g, --additional-gids <gid>', 'additional group (repeatable or comma separated)', collect, [])
    .option('-c, --cap <name>', 'add a capability (repeatable)', collect, [])
    .option('--no-new-privs', 'set no_new_privs for the process')
    .option('--apparmor <profile>', 'AppArmor profile for the process')
    .option('--process-label <label>', 'SELinux label for the process (ignored where SELinux is off)')
    .option('--ignore-paused', 'allow exec in a paused container', false)
    .option('--console-socket <path>', 'AF_UNIX socket that receives the pty master (with -t -d)')
    .option('--pidfd-socket <path>', 'AF_UNIX socket that receives a pidfd of the process')
    .option('--preserve-fds <n>', 'pass N more file descriptors (3, 4, ...)', count('--preserve-fds'))
    // Everything after the container ID belongs to the command, as with runc.
    .passThroughOptions()
    .action(async (id: string, command: string[], o: ExecFlags) => {
      try {
        const user = o.user === undefined ? {} : parseUser(o.user);
        const { execProcess, readProcessFile } = await import('../lifecycle/exec.js');
        if (o.process === undefined && command.length === 0) throw new Error('exec needs a command (or --process FILE)');
        setExitCode(await execProcess(ctx(), id, {
          process: o.process === undefined ? undefined : readProcessFile(o.process, ctx().caller.cwd),
          args: command, env: o.env, cwd: o.cwd, ...user, additionalGids: parseGids(o.additionalGids),
          caps: o.cap, noNewPrivileges: o.newPrivs === false ? true : undefined, tty: o.tty,
          apparmorProfile: o.apparmor, selinuxLabel: o.processLabel, detach: o.detach, pidFile: o.pidFile, ignorePaused: o.ignorePaused,
          ...ioOptions(o), forwardSignals: o.detach ? [] : FORWARDED,
        }));
      } catch (err) {
        // A process that never started exits 255, as with runc and crun; the
        // process's own status (any number, 255 too) is set above.
        const message = (err as Error)?.message ?? String(err);
        throw new OciError('ERR_EXEC_FAILED', `exec failed: ${message}`, { cause: err, exitCode: 255 });
      }
    });
}
