#!/usr/bin/env node
// Builds ocirun's default OCI bundle: a rootfs made from Debian's static
// busybox plus a config.json from ocirun's default spec.
//
//   node scripts/default-bundle.mjs DIR [--force]
//
// The bundle is assembled in a temporary directory beside DIR and renamed into
// place, so DIR is never half-written. When DIR already is a default bundle
// built from the same busybox binary and the same config, nothing is done
// (this runs before every demo). --force rebuilds anyway.
//
// Tests import the functions:
//   buildDefaultBundle(dir, { force, args, spec, editSpec, busybox })
//   buildBusyboxRootfs(rootfsDir, { busybox })
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import {
  chmod, copyFile, lstat, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, symlink, writeFile,
} from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Debian's busybox-static installs here (/bin/busybox is the same file with merged /usr). */
export const DEFAULT_BUSYBOX = '/usr/bin/busybox';

/** Inside the bundle dir; marks it as ours and records what it was built from. */
export const STAMP_FILE = '.ocirun-default-bundle';

/** Bump when the layout produced here changes, so old bundles get rebuilt. */
const FORMAT = 1;

/** The command the demo runs. */
export const DEMO_ARGS = Object.freeze([
  'sh',
  '-c',
  'echo "hello from ocirun: pid $$ on $(hostname) as $(id -un)"; ls /',
]);

const here = dirname(fileURLToPath(import.meta.url));
const defaultSpecModule = resolve(here, '..', 'dist', 'config', 'default-spec.js');

export class BundleError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BundleError';
  }
}

/** ocirun's runc-like default config (dist/config/default-spec.js, built from src/). */
export async function loadDefaultSpec() {
  let mod;
  try {
    mod = await import(pathToFileURL(defaultSpecModule).href);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(defaultSpecModule)) {
      throw new BundleError(
        `the default spec is not built (${relative(process.cwd(), defaultSpecModule) || defaultSpecModule} is missing): ` +
          'run "npm run build" (or "sh scripts/bootstrap.sh") first',
      );
    }
    throw err;
  }
  if (typeof mod.defaultSpec !== 'function') {
    throw new BundleError(`${defaultSpecModule} does not export defaultSpec()`);
  }
  return mod.defaultSpec();
}

/** Checks that `file` is a statically linked ELF executable (no PT_INTERP). */
async function checkStaticBusybox(file) {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    if (err.code === 'ENOENT') {
      throw new BundleError(`${file} not found: the default rootfs needs Debian's static busybox: apt-get install busybox-static`);
    }
    throw err;
  }
  if (!st.isFile()) throw new BundleError(`${file} is not a regular file`);
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46) throw new BundleError(`${file} is not an ELF executable`);
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b, o) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b, o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const phoff = is64 ? Number(le ? head.readBigUInt64LE(32) : head.readBigUInt64BE(32)) : u32(head, 28);
    const phentsize = u16(head, is64 ? 54 : 42);
    const phnum = u16(head, is64 ? 56 : 44);
    const table = Buffer.alloc(phentsize * phnum);
    await fh.read(table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      if (u32(table, i * phentsize) === 3 /* PT_INTERP */) {
        throw new BundleError(
          `${file} is dynamically linked (Debian's busybox package rather than busybox-static?); the default rootfs needs a static one: apt-get install busybox-static`,
        );
      }
    }
  } finally {
    await fh.close();
  }
  return st;
}

async function sha256File(file) {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

async function busyboxIdentity(file) {
  const st = await checkStaticBusybox(file);
  return { path: file, size: st.size, mtimeMs: st.mtimeMs, sha256: await sha256File(file) };
}

function runBusybox(file, args) {
  const r = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) throw r.error;
  return r;
}

/**
 * Makes a busybox rootfs in `dir` (created if missing; existing files are
 * overwritten). Returns { busybox, version, applets }.
 */
export async function buildBusyboxRootfs(dir, opts = {}) {
  const busybox = opts.busybox ?? DEFAULT_BUSYBOX;
  await checkStaticBusybox(busybox);

  const list = runBusybox(busybox, ['--list-full']);
  if (list.status !== 0) throw new BundleError(`${busybox} --list-full failed: ${list.stderr.trim()}`);
  const applets = list.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  // "BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) multi-call binary."
  const banner = runBusybox(busybox, []).stdout.split('\n')[0] ?? '';
  const version = banner.match(/BusyBox v(\S+)/)?.[1] ?? 'unknown';

  await mkdir(dir, { recursive: true });
  const dirs = {
    bin: 0o755, sbin: 0o755, usr: 0o755, 'usr/bin': 0o755, 'usr/sbin': 0o755, etc: 0o755,
    proc: 0o755, sys: 0o755, dev: 0o755, tmp: 0o1777, root: 0o700, run: 0o755, var: 0o755,
  };
  for (const [d, mode] of Object.entries(dirs)) {
    const p = join(dir, d);
    await mkdir(p, { recursive: true });
    await chmod(p, mode); // mkdir's mode is filtered by the umask; chmod is not
  }
  await chmod(dir, 0o755);

  const target = join(dir, 'bin', 'busybox');
  await rm(target, { force: true });
  await copyFile(busybox, target, fsc.COPYFILE_FICLONE);
  await chmod(target, 0o755);

  let linked = 0;
  for (const applet of applets) {
    // Each line is the applet's usual path without the leading slash
    // (bin/sh, sbin/ip, usr/bin/id). "linuxrc" (no directory) is skipped.
    const rel = applet.replace(/^\/+/, '');
    if (!rel.includes('/') || rel.split('/').includes('..') || rel === 'bin/busybox') continue;
    const link = join(dir, rel);
    await mkdir(dirname(link), { recursive: true });
    await rm(link, { force: true });
    // Relative, so it resolves the same inside the container and on the host.
    await symlink(relative(dirname(link), target), link);
    linked++;
  }

  const etc = (name, text, mode = 0o644) => writeFile(join(dir, 'etc', name), text, { mode }).then(() => chmod(join(dir, 'etc', name), mode));
  await etc('passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await etc('group', 'root:x:0:\nnobody:x:65534:\n');
  await etc('hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await etc('resolv.conf', '');
  await etc(
    'os-release',
    [
      'NAME="ocirun default busybox"',
      'ID=ocirun-busybox',
      `VERSION_ID=${JSON.stringify(version)}`,
      `PRETTY_NAME="ocirun default busybox image (BusyBox ${version})"`,
      '',
    ].join('\n'),
  );

  return { busybox, version, applets: linked };
}

/** Temp dirs left by a build that was killed (SIGKILL, power loss) more than 10 minutes ago. */
async function removeStaleTemps(parent, prefix) {
  const names = await readdir(parent).catch(() => []);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const p = join(parent, name);
    const st = await lstat(p).catch(() => null);
    if (st?.isDirectory() && Date.now() - st.mtimeMs > 10 * 60 * 1000) {
      await rm(p, { recursive: true, force: true }).catch(() => {});
    }
  }
}

async function readStamp(dir) {
  try {
    return JSON.parse(await readFile(join(dir, STAMP_FILE), 'utf8'));
  } catch {
    return null;
  }
}

async function exists(p) {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if (err.code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Builds the default bundle in `dir` (config.json + rootfs/ + stamp).
 *
 * opts.force     rebuild even when `dir` is already up to date
 * opts.args      process.args instead of the demo command
 * opts.spec      a whole config object to use instead of defaultSpec()
 * opts.editSpec  (spec) => spec|void, applied last (tests: custom configs)
 * opts.busybox   busybox binary to use (default /usr/bin/busybox)
 *
 * Returns { dir, rootfs, config, built } where built is false on the fast path.
 */
export async function buildDefaultBundle(dir, opts = {}) {
  if (!dir) throw new BundleError('buildDefaultBundle: no directory given');
  dir = resolve(dir);
  const busybox = opts.busybox ?? DEFAULT_BUSYBOX;

  let spec = opts.spec ? structuredClone(opts.spec) : await loadDefaultSpec();
  spec.process = { ...(spec.process ?? {}), args: [...(opts.args ?? DEMO_ARGS)] };
  if (!spec.root) spec.root = { path: 'rootfs' };
  if (opts.editSpec) spec = (await opts.editSpec(spec)) ?? spec;
  const configText = `${JSON.stringify(spec, null, 2)}\n`;

  const stamp = {
    format: FORMAT,
    busybox: await busyboxIdentity(busybox),
    config: createHash('sha256').update(configText).digest('hex'),
  };
  const result = { dir, rootfs: join(dir, 'rootfs'), config: join(dir, 'config.json'), built: false };

  const st = await lstat(dir).catch((err) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (st && !st.isDirectory()) {
    if (!opts.force) throw new BundleError(`${dir} exists and is not a directory; not replacing it (use --force)`);
  } else if (st) {
    const old = await readStamp(dir);
    if (!old) {
      const entries = await readdir(dir);
      if (entries.length > 0 && !opts.force) {
        throw new BundleError(`${dir} exists and is not an ocirun default bundle; not replacing it (use --force)`);
      }
    } else if (
      !opts.force &&
      JSON.stringify(old) === JSON.stringify(stamp) &&
      (await exists(join(dir, 'config.json'))) &&
      (await exists(join(dir, 'rootfs', 'bin', 'busybox')))
    ) {
      return result;
    }
  }

  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  await removeStaleTemps(parent, `.${basename(dir)}.tmp-`);
  const tmp = await mkdtemp(join(parent, `.${basename(dir)}.tmp-`));
  let trash;
  try {
    await chmod(tmp, 0o755);
    await buildBusyboxRootfs(join(tmp, 'rootfs'), { busybox });
    await writeFile(join(tmp, 'config.json'), configText, { mode: 0o644 });
    await writeFile(join(tmp, STAMP_FILE), `${JSON.stringify(stamp)}\n`, { mode: 0o644 });

    if (await exists(dir)) {
      // A concurrent build (another demo) may have finished meanwhile: keep its bundle.
      const other = await readStamp(dir);
      if (!opts.force && other && JSON.stringify(other) === JSON.stringify(stamp)) return result;
      trash = `${tmp}.old`;
      await rename(dir, trash);
    }
    await rename(tmp, dir);
    result.built = true;
    return result;
  } catch (err) {
    // Someone else (a concurrent demo) may have put a bundle in place meanwhile.
    if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') {
      const other = await readStamp(dir);
      if (other && JSON.stringify(other) === JSON.stringify(stamp)) return result;
    }
    if (trash && !(await exists(dir))) await rename(trash, dir).catch(() => {});
    throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (trash) await rm(trash, { recursive: true, force: true }).catch(() => {});
  }
}

async function main(argv) {
  const usage = 'usage: node rootfs-tools/default-bundle.mjs DIR [--force]';
  let dir;
  let force = false;
  for (const a of argv) {
    if (a === '--force' || a === '-f') force = true;
    else if (a === '-h' || a === '--help') {
      console.log(usage);
      return 0;
    } else if (a.startsWith('-') || dir !== undefined) {
      console.error(usage);
      return 2;
    } else dir = a;
  }
  if (!dir) {
    console.error(usage);
    return 2;
  }
  const r = await buildDefaultBundle(dir, { force });
  if (r.built) console.error(`ocirun: default bundle ready in ${relative(process.cwd(), r.dir) || '.'}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      console.error(err instanceof BundleError ? `ocirun: ${err.message}` : err);
      process.exitCode = 1;
    },
  );
}
