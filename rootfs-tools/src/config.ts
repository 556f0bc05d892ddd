// Image config → runtime config.json, per image-spec conversion.md, on top of
// a base config the caller gives (ocirun passes the defaults of `ocirun spec`). User names are looked up in the
// unpacked rootfs's /etc/passwd and /etc/group, read through RootFs so a
// symlinked /etc/passwd resolves inside the rootfs, never on the host.
import { isObject } from './blobs.js';
import { UnpackError } from './errors.js';
import type { RootFs } from './safe-fs.js';

/**
 * The parts of a runtime config.json this package reads and writes. It knows
 * nothing else of the runtime: ocirun's Spec is one of these, and whatever
 * else the base holds is copied through untouched.
 */
export interface RuntimeConfig {
  root?: { path: string; readonly?: boolean };
  process?: {
    args?: string[];
    env?: string[];
    cwd: string;
    user: { uid: number; gid: number; additionalGids?: number[] };
  };
  annotations?: Record<string, string>;
}

const ANNOTATION = 'org.opencontainers.image';
const ID_MAX = 0xffffffff;
const DB_LIMIT = 4 * 1024 * 1024;

function invalid(message: string): UnpackError {
  return new UnpackError('ERR_INVALID_IMAGE', `image config: ${message}`);
}

function stringList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(`${field} is not a list of strings`);
  return v as string[];
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${field} is not a string`);
  return v;
}

interface DbEntry {
  name: string;
  id: number;
  /** passwd: the primary gid; group: unused. */
  gid: number;
  members: string[];
}

/** passwd (name:pw:uid:gid:...) or group (name:pw:gid:members) lines. */
function parseDb(text: string | undefined, kind: 'passwd' | 'group'): DbEntry[] {
  if (text === undefined) return [];
  const out: DbEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < (kind === 'passwd' ? 4 : 3)) continue;
    const id = Number(f[2]);
    if (!/^\d+$/.test(f[2]) || id > ID_MAX) continue;
    const gid = kind === 'passwd' ? Number(f[3]) : id;
    if (kind === 'passwd' && (!/^\d+$/.test(f[3]) || gid > ID_MAX)) continue;
    const members = kind === 'group' && f[3] ? f[3].split(',').map((m) => m.trim()).filter(Boolean) : [];
    out.push({ name: f[0], id, gid, members });
  }
  return out;
}

function numericId(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= ID_MAX ? n : undefined;
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids?: number[];
}

/** Config.User: "", "user", "uid", "user:group", "uid:gid" and mixes. */
export function resolveUser(user: string, fs: RootFs): ResolvedUser {
  if (user === '') return { uid: 0, gid: 0 };
  const colon = user.indexOf(':');
  const u = colon < 0 ? user : user.slice(0, colon);
  const g = colon < 0 ? undefined : user.slice(colon + 1);
  if (u === '' || g === '') throw invalid(`User ${JSON.stringify(user)} is malformed`);
  const read = (path: string): string | undefined => fs.readFile(path, DB_LIMIT)?.toString('utf8');
  const passwd = parseDb(read('/etc/passwd'), 'passwd');

  let uid = numericId(u);
  let entry: DbEntry | undefined;
  if (uid === undefined) {
    entry = passwd.find((p) => p.name === u);
    if (!entry) throw invalid(`user ${JSON.stringify(u)} (User ${JSON.stringify(user)}) is not in the rootfs's /etc/passwd`);
    uid = entry.id;
  } else {
    entry = passwd.find((p) => p.id === uid);
  }

  if (g !== undefined) {
    let gid = numericId(g);
    if (gid === undefined) {
      const grp = parseDb(read('/etc/group'), 'group').find((x) => x.name === g);
      if (!grp) throw invalid(`group ${JSON.stringify(g)} (User ${JSON.stringify(user)}) is not in the rootfs's /etc/group`);
      gid = grp.id;
    }
    return { uid, gid };
  }
  const gid = entry?.gid ?? 0;
  // conversion.md: supplementary groups only when the user was named and no group given.
  if (numericId(u) !== undefined) return { uid, gid };
  const name = u;
  const extra = [...new Set(parseDb(read('/etc/group'), 'group').filter((x) => x.members.includes(name)).map((x) => x.id))];
  return extra.length > 0 ? { uid, gid, additionalGids: extra } : { uid, gid };
}

function envName(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/** Builds config.json: `base` is the runtime's default config, `image` the parsed image config. */
export function runtimeConfig<T extends RuntimeConfig>(base: T, image: Record<string, unknown>, fs: RootFs): T {
  const spec: RuntimeConfig = structuredClone(base);
  const c = image.config === undefined || image.config === null ? {} : image.config;
  if (!isObject(c)) throw invalid('"config" is not an object');
  const proc = spec.process ?? { user: { uid: 0, gid: 0 }, cwd: '/' };
  spec.process = proc;

  const entrypoint = stringList(c.Entrypoint, 'Entrypoint') ?? [];
  const cmd = stringList(c.Cmd, 'Cmd') ?? [];
  if (entrypoint.length + cmd.length > 0) proc.args = [...entrypoint, ...cmd];

  // Image variables win; defaults (PATH, TERM) only fill in names the image does not set.
  const env = stringList(c.Env, 'Env') ?? [];
  const names = new Set(env.map(envName));
  proc.env = [...env, ...(proc.env ?? []).filter((e) => !names.has(envName(e)))];

  const wd = optString(c.WorkingDir, 'WorkingDir');
  if (wd) proc.cwd = wd.startsWith('/') ? wd : `/${wd}`;

  const user = resolveUser(optString(c.User, 'User') ?? '', fs);
  proc.user = { ...proc.user, uid: user.uid, gid: user.gid };
  if (user.additionalGids) proc.user.additionalGids = user.additionalGids;
  else delete proc.user.additionalGids;

  const ann: Record<string, string> = { ...(spec.annotations ?? {}) };
  const put = (key: string, v: unknown): void => {
    if (typeof v === 'string' && v !== '') ann[`${ANNOTATION}.${key}`] = v;
  };
  put('os', image.os);
  put('architecture', image.architecture);
  put('variant', image.variant);
  put('os.version', image['os.version']);
  if (Array.isArray(image['os.features'])) put('os.features', image['os.features'].filter((f) => typeof f === 'string').join(','));
  put('author', image.author);
  put('created', image.created);
  put('stopSignal', optString(c.StopSignal, 'StopSignal'));
  if (isObject(c.ExposedPorts)) put('exposedPorts', Object.keys(c.ExposedPorts).join(','));
  // Labels come last: an explicit label beats the implicit annotation of the same key.
  if (c.Labels !== undefined && c.Labels !== null) {
    if (!isObject(c.Labels)) throw invalid('Labels is not an object');
    for (const [k, v] of Object.entries(c.Labels)) {
      if (typeof v !== 'string') throw invalid(`Labels[${JSON.stringify(k)}] is not a string`);
      ann[k] = v;
    }
  }
  if (Object.keys(ann).length > 0) spec.annotations = ann;
  return spec as T;
}
