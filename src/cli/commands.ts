// One definition per command: flags as runc spells them, then a call into the library.
import type { Command } from 'commander';
import type { RuntimeContext } from '../context.js';
import type { SetExitCode } from './main.js';
import { createIoOptions, registerExecCommand, withIoFlags, type IoFlags } from './exec-command.js';
import { registerCgroupCommands } from './cgroup-commands.js';

import { print } from './report.js';
import { resolve } from 'node:path';

export function registerCommands(program: Command, ctx: () => RuntimeContext, setExitCode: SetExitCode): void {
  program.command('spec')
    .description('write a default config.json to the bundle directory')
    .option('-b, --bundle <dir>', 'bundle directory', '.')
    .option('--rootless', 'generate a configuration for a rootless container', false)
    .action(async (o: { bundle: string; rootless: boolean }) => {
      const { writeDefaultSpec } = await import('../lifecycle/spec.js');
      writeDefaultSpec(resolve(ctx().caller.cwd, o.bundle), { rootless: o.rootless });
    });

  withIoFlags(program.command('create'))
    .description('create a container; it waits for "start" to run the user process')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'bundle directory', '.')
    .option('--pid-file <file>', 'write the container init pid to this file')
    .option('--no-pivot', 'use chroot instead of pivot_root (for ramdisk roots)')
    .action(async (id: string, o: { bundle: string; pidFile?: string; pivot: boolean } & IoFlags) => {
      const { createCommand } = await import('./hot.js');
      await createCommand(ctx(), id, { bundle: o.bundle, pidFile: o.pidFile, noPivot: !o.pivot }, createIoOptions(o, ctx()));
    });

  program.command('start')
    .description('run the user process of a created container')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { startContainer } = await import('../lifecycle/start.js');
      await startContainer(ctx(), id);
    });

  withIoFlags(program.command('run'))
    .description('create and start a container, wait for it, then delete it')
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'bundle directory', '.')
    .option('--pid-file <file>', 'write the container init pid to this file')
    .option('--no-pivot', 'use chroot instead of pivot_root')
    .option('-d, --detach', 'do not wait for the container', false)
    .option('--keep', 'do not delete the container after it exits', false)
    .action(async (id: string, o: { bundle: string; pidFile?: string; pivot: boolean; detach: boolean; keep: boolean } & IoFlags) => {
      const { runCommand } = await import('./hot.js');
      const flags = { bundle: o.bundle, pidFile: o.pidFile, noPivot: !o.pivot, detach: o.detach, keep: o.keep };
      setExitCode(await runCommand(ctx(), id, flags, createIoOptions(o, ctx())));
    });

  program.command('state')
    .description('print the state of a container as JSON')
    .argument('<container-id>')
    .action(async (id: string) => {
      const { printState } = await import('./hot.js');
      printState(ctx(), id);
    });

  program.command('kill')
    .description('send a signal (default SIGTERM) to the container init')
    .argument('<container-id>')
    .argument('[signal]', 'signal name (with or without SIG) or number', 'SIGTERM')
    .option('-a, --all', 'signal every process in the container\'s cgroup, not only the init', false)
    .action(async (id: string, signal: string, o: { all: boolean }) => {
      const { killContainer } = await import('../lifecycle/kill.js');
      await killContainer(ctx(), id, signal, { all: o.all });
    });

  program.command('delete')
    .description('delete a stopped container (and its resources)')
    .argument('<container-id>')
    .option('-f, --force', 'kill the container first if it is still running', false)
    .action(async (id: string, o: { force: boolean }) => {
      const { deleteContainer } = await import('../lifecycle/delete.js');
      await deleteContainer(ctx(), id, { force: o.force });
    });

  program.command('list')
    .description('list containers')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'print only container IDs', false)
    .action(async (o: { format: string; quiet: boolean }) => {
      const { listContainers } = await import('../lifecycle/query.js');
      const { formatList } = await import('./format.js');
      print(ctx(), formatList(listContainers(ctx()), o));
    });

  program.command('unpack')
    .description('unpack an image (OCI layout, docker save archive or rootfs tarball) into a new bundle')
    .argument('<image>', 'OCI layout directory or tar (DIR:REF picks a tag), docker save archive, or rootfs tarball')
    .argument('<bundle-dir>', 'bundle to create (rootfs/ and config.json); must not exist or be empty')
    .option('--ref <ref>', 'image to pick: a tag (ref.name, docker RepoTag) or a manifest digest')
    .option('--platform <os/arch[/variant]>', 'platform to pick from an image index (default: linux/<this machine>)')
    .option('-q, --quiet', 'no progress bar and no warnings', false)
    .action(async (image: string, bundle: string, o: { ref?: string; platform?: string; quiet: boolean }) => {
      // rootfs-tools is a package of its own (npm workspace) that knows nothing
      // of the runtime: it starts config.json from the defaults we give it.
      const [{ runUnpackCommand }, { defaultSpec }] = await Promise.all([
        import('@ocirun/rootfs-tools'), import('../config/default-spec.js'),
      ]);
      await runUnpackCommand(image, bundle, { ...o, spec: defaultSpec() });
    });

  program.command('features')
    .description('print the features this runtime implements, as JSON')
    .action(async () => {
      const { features } = await import('../features.js');
      print(ctx(), JSON.stringify(features(), null, 2) + '\n');
    });

  registerExecCommand(program, ctx, setExitCode);
  registerCgroupCommands(program, ctx);
}
