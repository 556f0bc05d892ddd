#!/usr/bin/env node
// Builds what the test VM boots (see docs/testing-vm.md), cached in build/vm/:
//   vmlinux-<kver>             the installed Debian kernel, decompressed to its
//                              ELF so QEMU boots it directly (PVH entry point)
//   initramfs-<kver>.cpio      static busybox, the modules the guest needs and
//                              test/vm/init.sh as /init (uncompressed: under
//                              software emulation, unpacking gzip costs more
//                              than loading a few more megabytes)
//   image.json                 the key it was built from; a build is reused while
//                              the kernel, busybox, this file and init.sh are
//                              unchanged
// Usage: node test/vm/build-image.mjs [--force]    (prints the image paths)
// Import: ensureImage() -> { kernel, initrd, kver, hz, key }
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const cacheDir = join(repoRoot, 'build', 'vm');
const initScript = join(here, 'init.sh');
const busyboxPath = '/bin/busybox';

// Module groups; /init loads the ones the kernel command line names
// (ocirun.mods=base,mmio,virtiofs), dependencies first.
export const moduleGroups = {
  base: ['virtio_console', 'overlay'],
  mmio: ['virtio_mmio'],
  pci: ['virtio_pci'],
  virtiofs: ['virtiofs'],
  '9p': ['9p', '9pnet_virtio'],
};

function log(msg) {
  process.stderr.write(`ocirun vm image: ${msg}\n`);
}

function aptInstall(pkgs) {
  log(`installing ${pkgs.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const opts = { stdio: ['ignore', 'pipe', 'pipe'], env, encoding: 'utf8' };
  let r = spawnSync('apt-get', ['-q', '-y', '-o', 'DPkg::Lock::Timeout=300', 'install', '--no-install-recommends', ...pkgs], opts);
  if (r.status !== 0) {
    // The package lists may be missing or stale: update once and try again.
    spawnSync('apt-get', ['-q', '-o', 'DPkg::Lock::Timeout=300', 'update'], opts);
    r = spawnSync('apt-get', ['-q', '-y', '-o', 'DPkg::Lock::Timeout=300', 'install', '--no-install-recommends', ...pkgs], opts);
  }
  if (r.status !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed:\n${r.stdout}${r.stderr}`);
}

/** Installs what the VM needs on the host when it is missing (Debian only). */
export function ensureHostPackages() {
  const missing = [];
  if (!findKernel(false)) missing.push('linux-image-amd64');
  if (!existsSync('/usr/bin/qemu-system-x86_64') || !existsSync('/usr/lib/qemu/virtiofsd')) missing.push('qemu-system-x86');
  if (!existsSync(busyboxPath)) missing.push('busybox-static');
  if (missing.length) aptInstall(missing);
}

function compareVersions(a, b) {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    if (pa[i] === undefined) return -1;
    if (pb[i] === undefined) return 1;
    if (typeof pa[i] === 'number' && typeof pb[i] === 'number') return pa[i] - pb[i];
    return String(pa[i]) < String(pb[i]) ? -1 : 1;
  }
  return 0;
}

/** The newest /boot/vmlinuz-<kver> that has its /lib/modules/<kver>. */
export function findKernel(required = true) {
  let names = [];
  try {
    names = readdirSync('/boot');
  } catch {
    // no /boot
  }
  const kvers = names
    .filter((n) => n.startsWith('vmlinuz-'))
    .map((n) => n.slice('vmlinuz-'.length))
    .filter((k) => existsSync(join('/lib/modules', k, 'modules.dep')))
    .sort(compareVersions);
  const kver = kvers[kvers.length - 1];
  if (!kver) {
    if (required) throw new Error('no kernel in /boot with modules in /lib/modules (apt-get install linux-image-amd64)');
    return null;
  }
  return { kver, vmlinuz: join('/boot', `vmlinuz-${kver}`), modDir: join('/lib/modules', kver) };
}

/** Module names (as in modules.dep, with '-' and '_' equal) -> ordered list of .ko paths, dependencies first. */
function resolveModules(modDir, wanted) {
  const deps = new Map();
  const byName = new Map();
  for (const line of readFileSync(join(modDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    const list = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
    deps.set(path, list);
    byName.set(basename(path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_'), path);
  }
  const builtin = new Set();
  try {
    for (const line of readFileSync(join(modDir, 'modules.builtin'), 'utf8').split('\n')) {
      if (line) builtin.add(basename(line).replace(/\.ko$/, '').replace(/-/g, '_'));
    }
  } catch {
    // no modules.builtin
  }
  const order = [];
  const seen = new Set();
  const visit = (path) => {
    if (seen.has(path)) return;
    seen.add(path);
    // modules.dep lists the full dependency closure; visiting each one's own
    // deps first gives a valid load order.
    for (const d of deps.get(path) ?? []) visit(d);
    order.push(path);
  };
  for (const name of wanted) {
    const key = name.replace(/-/g, '_');
    const path = byName.get(key);
    if (!path) {
      if (builtin.has(key)) continue;
      throw new Error(`module ${name} not found in ${modDir}/modules.dep`);
    }
    visit(path);
  }
  return order;
}

/** Decompresses a bzImage to the vmlinux ELF inside it (like the kernel's scripts/extract-vmlinux). */
function extractVmlinux(vmlinuz) {
  const img = readFileSync(vmlinuz);
  const formats = [
    { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), cmd: ['xz', '-dc', '--single-stream'] },
    { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), cmd: ['zstd', '-dc'] },
    { magic: Buffer.from([0x1f, 0x8b, 0x08]), cmd: ['gzip', '-dc'] },
  ];
  for (const f of formats) {
    let at = img.indexOf(f.magic);
    while (at >= 0) {
      const r = spawnSync(f.cmd[0], f.cmd.slice(1), { input: img.subarray(at), maxBuffer: 1 << 30 });
      const out = r.stdout;
      // Trailing data after the stream makes some decompressors complain; the
      // ELF is what counts.
      if (out && out.length > 1 << 20 && out.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) return out;
      at = img.indexOf(f.magic, at + 1);
    }
  }
  throw new Error(`could not find a compressed ELF kernel in ${vmlinuz}`);
}

/** A newc cpio archive writer (what the kernel unpacks as initramfs). */
class Cpio {
  constructor() {
    this.parts = [];
    this.ino = 1;
    this.size = 0;
  }

  push(buf) {
    this.parts.push(buf);
    this.size += buf.length;
  }

  pad() {
    const n = (4 - (this.size % 4)) % 4;
    if (n) this.push(Buffer.alloc(n));
  }

  entry(name, mode, data = Buffer.alloc(0), { rdevMajor = 0, rdevMinor = 0 } = {}) {
    const nameBuf = Buffer.from(`${name}\0`);
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBuf.length, 0];
    this.push(Buffer.from(`070701${fields.map((v) => v.toString(16).padStart(8, '0')).join('')}`));
    this.push(nameBuf);
    this.pad();
    if (data.length) {
      this.push(data);
      this.pad();
    }
  }

  dir(name, perm = 0o755) {
    this.entry(name, 0o040000 | perm);
  }

  file(name, data, perm = 0o644) {
    this.entry(name, 0o100000 | perm, data);
  }

  symlink(name, target) {
    this.entry(name, 0o120000 | 0o777, Buffer.from(target));
  }

  chardev(name, major, minor, perm = 0o600) {
    this.entry(name, 0o020000 | perm, undefined, { rdevMajor: major, rdevMinor: minor });
  }

  finish() {
    this.entry('TRAILER!!!', 0);
    const n = (512 - (this.size % 512)) % 512;
    if (n) this.push(Buffer.alloc(n));
    return Buffer.concat(this.parts);
  }
}

function fileKey(path) {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

/**
 * Returns the cached kernel and initramfs, building them first when missing or
 * out of date. Safe to call from several processes at once (each build goes to
 * a temporary name and is renamed into place).
 */
export function ensureImage({ force = false, quiet = false } = {}) {
  ensureHostPackages();
  const k = findKernel();
  const self = fileURLToPath(import.meta.url);
  const key = createHash('sha256')
    .update(readFileSync(self))
    .update(readFileSync(initScript))
    .update(fileKey(k.vmlinuz))
    .update(fileKey(join(k.modDir, 'modules.dep')))
    .update(fileKey(busyboxPath))
    .digest('hex');
  const kernel = join(cacheDir, `vmlinux-${k.kver}`);
  const initrd = join(cacheDir, `initramfs-${k.kver}.cpio`);
  const meta = join(cacheDir, 'image.json');
  let hz = 250;
  try {
    const m = /^CONFIG_HZ=(\d+)$/m.exec(readFileSync(join('/boot', `config-${k.kver}`), 'utf8'));
    if (m) hz = Number(m[1]);
  } catch {
    // no config: Debian's default
  }
  const result = { kernel, initrd, kver: k.kver, key, hz };
  if (!force && existsSync(kernel) && existsSync(initrd) && existsSync(meta)) {
    try {
      if (JSON.parse(readFileSync(meta, 'utf8')).key === key) return result;
    } catch {
      // rebuild
    }
  }
  const t0 = Date.now();
  mkdirSync(cacheDir, { recursive: true });
  const tmpSuffix = `.tmp-${process.pid}`;

  // Kernel: decompressed ELF (QEMU boots it through its PVH note, skipping the
  // bzImage's own decompressor, which is slow under emulation).
  const vmlinux = extractVmlinux(k.vmlinuz);
  writeFileSync(kernel + tmpSuffix, vmlinux);

  // Initramfs.
  const cpio = new Cpio();
  for (const d of ['bin', 'dev', 'etc', 'etc/ocirun-vm', 'lib', 'lib/modules', 'proc', 'sys', 'run', 'tmp', 'host-ro', 'rw', 'newroot']) {
    cpio.dir(d);
  }
  cpio.chardev('dev/console', 5, 1);
  cpio.chardev('dev/null', 1, 3, 0o666);
  cpio.file('bin/busybox', readFileSync(busyboxPath), 0o755);
  const applets = execFileSync(busyboxPath, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') cpio.symlink(`bin/${a}`, 'busybox');
  cpio.file('init', readFileSync(initScript), 0o755);
  const added = new Set();
  for (const [group, names] of Object.entries(moduleGroups)) {
    const order = resolveModules(k.modDir, names);
    const list = [];
    for (const rel of order) {
      const name = basename(rel);
      if (!added.has(name)) {
        cpio.file(`lib/modules/${name}`, readFileSync(join(k.modDir, rel)));
        added.add(name);
      }
      list.push(name);
    }
    cpio.file(`etc/ocirun-vm/modules.${group}`, Buffer.from(list.join('\n') + '\n'));
  }
  cpio.file('etc/ocirun-vm/kver', Buffer.from(`${k.kver}\n`));
  writeFileSync(initrd + tmpSuffix, cpio.finish());

  renameSync(kernel + tmpSuffix, kernel);
  renameSync(initrd + tmpSuffix, initrd);
  writeFileSync(meta + tmpSuffix, JSON.stringify({ key, kver: k.kver, kernel, initrd, built: new Date().toISOString() }, null, 2) + '\n');
  renameSync(meta + tmpSuffix, meta);
  // Drop images of kernels that are no longer installed.
  for (const n of readdirSync(cacheDir)) {
    if (/^(vmlinux|initramfs)-/.test(n) && !n.includes(k.kver)) rmSync(join(cacheDir, n), { force: true });
  }
  if (!quiet) log(`built ${basename(kernel)} and ${basename(initrd)} (${added.size} modules) in ${Date.now() - t0} ms`);
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const r = ensureImage({ force: process.argv.includes('--force') });
    process.stdout.write(`${r.kernel}\n${r.initrd}\n`);
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
