#!/usr/bin/env node
// First step of the package's `install` script (before `node-gyp rebuild`):
// checks that everything the native build needs is on this machine, and if
// not, prints one line per missing thing naming the Debian package to install,
// then exits 1. No network, no child processes: only stat() calls.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';

const missing = [];
const notes = [];

function miss(what, hint) {
  missing.push(`ocirun: missing ${what}: ${hint}`);
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Like `command -v`: absolute or relative paths as given, bare names on $PATH. */
function which(cmd) {
  if (!cmd) return null;
  if (cmd.includes('/')) return isExecutable(cmd) ? resolve(cmd) : null;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, cmd);
    if (isExecutable(file)) return file;
  }
  return null;
}

// --- platform and Node itself ---------------------------------------------------
if (process.platform !== 'linux') {
  console.error(`ocirun: unsupported platform ${process.platform}: ocirun runs on Linux only`);
  process.exit(1);
}
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 20) {
  miss(`Node.js >= 20 (found ${process.version})`, 'install Node.js 20 or newer (e.g. from deb.nodesource.com)');
}

// --- C++ compiler ($CXX may carry a wrapper or flags, e.g. "ccache g++") ------
const cxx = (process.env.CXX ?? '').trim().split(/\s+/)[0] || 'g++';
if (!which(cxx)) {
  miss(`C++ compiler (${cxx})`, process.env.CXX ? `$CXX=${process.env.CXX} not found; unset it or apt-get install g++` : 'apt-get install g++');
}

// --- make ------------------------------------------------------------------------
const make = (process.env.MAKE ?? '').trim().split(/\s+/)[0] || 'make';
if (!which(make)) miss(`make (${make})`, 'apt-get install make');

// --- python3 (node-gyp looks at $PYTHON / npm_config_python, then python3) ----
{
  const configured = process.env.npm_config_python || process.env.PYTHON;
  if (configured) {
    if (!which(configured)) miss(`python (${configured}, from npm_config_python/$PYTHON)`, 'fix that setting or apt-get install python3');
  } else if (!which('python3')) {
    miss('python3', 'apt-get install python3');
  }
}

// --- static libc: the init helper is linked with -static -----------------------
{
  const multiarch = {
    x64: ['x86_64-linux-gnu'],
    arm64: ['aarch64-linux-gnu'],
    arm: ['arm-linux-gnueabihf', 'arm-linux-gnueabi'],
    ia32: ['i386-linux-gnu'],
    ppc64: ['powerpc64le-linux-gnu', 'powerpc64-linux-gnu'],
    s390x: ['s390x-linux-gnu'],
    riscv64: ['riscv64-linux-gnu'],
    loong64: ['loongarch64-linux-gnu'],
    mips64el: ['mips64el-linux-gnuabi64'],
  }[process.arch] ?? [];
  const candidates = [
    ...multiarch.map((t) => `/usr/lib/${t}/libc.a`),
    '/usr/lib64/libc.a',
    '/usr/lib/libc.a',
  ];
  if (!candidates.some((f) => existsSync(f))) {
    miss(`static libc (libc.a, looked in ${candidates[0]})`, 'apt-get install libc6-dev');
  }
}

// --- libseccomp: linked statically into the init helper ------------------------
{
  const multiarch = {
    x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', ia32: 'i386-linux-gnu',
    ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu', riscv64: 'riscv64-linux-gnu',
    loong64: 'loongarch64-linux-gnu', mips64el: 'mips64el-linux-gnuabi64',
  }[process.arch];
  const libs = [...(multiarch ? [`/usr/lib/${multiarch}/libseccomp.a`] : []), '/usr/lib64/libseccomp.a', '/usr/lib/libseccomp.a'];
  const headers = ['/usr/include/seccomp.h', ...(multiarch ? [`/usr/include/${multiarch}/seccomp.h`] : [])];
  if (!libs.some((f) => existsSync(f)) || !headers.some((f) => existsSync(f))) {
    miss(`static libseccomp (libseccomp.a and seccomp.h, looked in ${libs[0]})`, 'apt-get install libseccomp-dev');
  }
}

// --- rapidjson: header-only, the init helper reads its plan with it ------------
if (!existsSync('/usr/include/rapidjson/document.h')) {
  miss('rapidjson headers (/usr/include/rapidjson/document.h)', 'apt-get install rapidjson-dev');
}

// --- Node's headers, where node-gyp will look for them ------------------------
{
  const version = process.versions.node;
  const hasHeaders = (dir) =>
    (existsSync(join(dir, 'include', 'node', 'node_api.h')) && existsSync(join(dir, 'include', 'node', 'common.gypi'))) ||
    (existsSync(join(dir, 'src', 'node_api.h')) && existsSync(join(dir, 'common.gypi')));

  const nodedir = process.env.npm_config_nodedir;
  // Headers next to the running node (nodesource packages: /usr/include/node;
  // official tarballs and nvm: <prefix>/include/node).
  const localPrefix = dirname(dirname(process.execPath));
  const cacheRoot = process.env.npm_config_devdir
    ? process.env.npm_config_devdir.replace(/^~/, homedir())
    : join(process.env.XDG_CACHE_HOME && isAbsolute(process.env.XDG_CACHE_HOME) ? process.env.XDG_CACHE_HOME : join(homedir(), '.cache'), 'node-gyp');
  const cached = join(cacheRoot, version);

  if (nodedir) {
    const dir = nodedir.replace(/^~/, homedir());
    if (!hasHeaders(dir)) {
      miss(`Node.js headers (node_api.h) in nodedir ${dir}`, `fix npm's nodedir setting, or apt-get install libnode-dev and set nodedir=/usr`);
    }
  } else if (hasHeaders(cached)) {
    // node-gyp's own cache for this exact version: used as is.
  } else if (prefixHeadersMatch()) {
    // node-gyp uses <node_prefix>/include/node when node was built for that.
  } else if (hasHeaders(localPrefix)) {
    // Present, but node-gyp only uses them when told; otherwise it downloads them.
    notes.push(`ocirun: note: node-gyp will try to download headers for ${process.version}; to use the installed ones instead: npm config set nodedir ${localPrefix}`);
  } else {
    miss(`Node.js headers (node_api.h) for ${process.version}`, 'apt-get install libnode-dev (or the nodejs package from deb.nodesource.com, which ships them)');
  }

  function prefixHeadersMatch() {
    const vars = process.config?.variables ?? {};
    if (!vars.use_prefix_to_find_headers || !vars.node_prefix) return false;
    try {
      const h = readFileSync(join(vars.node_prefix, 'include', 'node', 'node_version.h'), 'utf8');
      const num = (name) => h.match(new RegExp(`#define ${name} (\\d+)`))?.[1];
      return `${num('NODE_MAJOR_VERSION')}.${num('NODE_MINOR_VERSION')}.${num('NODE_PATCH_VERSION')}` === version;
    } catch {
      return false;
    }
  }
}

for (const line of notes) console.error(line);
if (missing.length > 0) {
  for (const line of missing) console.error(line);
  process.exit(1);
}
