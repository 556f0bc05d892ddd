// Platform matching for image indexes: "linux/<this arch>" by default,
// --platform os/arch[/variant] to override. Spellings are normalised the way
// containerd does (aarch64 = arm64, arm64 without variant = arm64/v8, ...).
import type { Platform } from '../blobs.js';
import { UnpackError } from '../errors.js';

export interface WantedPlatform {
  os: string;
  architecture: string;
  variant?: string;
  /** Given with --platform: a mismatch is an error rather than a warning. */
  explicit: boolean;
}

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: 'i386', i686: '386', ia32: '386', x64: 'amd64',
};

function normArch(a: string): string {
  const l = a.toLowerCase();
  return l === 'i386' ? '386' : ARCH_ALIASES[l] ?? l;
}

/** The variant an image built without one is assumed to have. */
function normVariant(arch: string, variant: string | undefined): string {
  const v = (variant ?? '').toLowerCase();
  if (arch === 'arm64') return v === '' || v === '8' ? 'v8' : v;
  if (arch === 'arm') return v === '' ? 'v7' : /^\d$/.test(v) ? `v${v}` : v;
  if (arch === 'amd64') return v === '' ? 'v1' : v;
  return v;
}

export function hostPlatform(): WantedPlatform {
  const map: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };
  let architecture = map[process.arch] ?? process.arch;
  if (process.arch === 'ppc64') architecture = 'ppc64le';
  const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
  const variant = architecture === 'arm' && armVersion ? `v${String(armVersion)}` : undefined;
  return { os: 'linux', architecture, variant, explicit: false };
}

/** "linux/arm64", "linux/arm/v7", or just "arm64" (os linux). */
export function parsePlatform(text: string): WantedPlatform {
  const parts = text.trim().split('/');
  if (parts.length === 1 && parts[0] !== '') return { os: 'linux', architecture: normArch(parts[0]), explicit: true };
  if ((parts.length === 2 || parts.length === 3) && parts.every((p) => p !== '')) {
    return { os: parts[0].toLowerCase(), architecture: normArch(parts[1]), variant: parts[2], explicit: true };
  }
  throw new UnpackError('ERR_INVALID_ARGUMENT', `invalid --platform ${JSON.stringify(text)}: use os/arch[/variant], e.g. linux/arm64`);
}

export function formatPlatform(p: { os?: string; architecture?: string; variant?: string }): string {
  return [p.os ?? '?', p.architecture ?? '?', ...(p.variant ? [p.variant] : [])].join('/');
}

/** 2: exact match, 1: acceptable (variant unspecified on one side), 0: no. */
export function platformScore(p: Platform, want: WantedPlatform): number {
  if (typeof p.os !== 'string' || typeof p.architecture !== 'string') return 0;
  if (p.os.toLowerCase() !== want.os) return 0;
  const arch = normArch(p.architecture);
  if (arch !== normArch(want.architecture)) return 0;
  const have = normVariant(arch, p.variant);
  if (want.variant !== undefined) return have === normVariant(arch, want.variant) ? 2 : 0;
  return have === normVariant(arch, undefined) ? 2 : 1;
}

/**
 * After choosing a manifest that said nothing about its platform: compares
 * the image config's os/architecture with what was wanted.
 */
export function checkConfigPlatform(
  config: { os?: unknown; architecture?: unknown; variant?: unknown },
  want: WantedPlatform,
  what: string,
  warn: (m: string) => void,
): void {
  if (typeof config.os !== 'string' || typeof config.architecture !== 'string') return;
  const p: Platform = { os: config.os, architecture: config.architecture, variant: typeof config.variant === 'string' ? config.variant : undefined };
  if (platformScore(p, { ...want, variant: want.explicit ? want.variant : undefined }) > 0) return;
  const msg = `${what} is for ${formatPlatform(p)}, not ${formatPlatform(want)}`;
  if (want.explicit) throw new UnpackError('ERR_INVALID_ARGUMENT', msg);
  warn(`${msg} (unpacking it anyway)`);
}

/** The names a Docker-style reference can be written as: busybox = busybox:latest = docker.io/library/busybox:latest. */
export function dockerNames(ref: string): string[] {
  const out = new Set([ref]);
  let name = ref;
  const slash = name.lastIndexOf('/');
  if (!name.includes('@') && name.lastIndexOf(':') <= slash) name += ':latest';
  out.add(name);
  const first = name.split('/')[0];
  const hasDomain = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) {
    out.add(name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`);
  } else if (first === 'docker.io' && name.split('/').length === 2) {
    out.add(`docker.io/library/${name.slice('docker.io/'.length)}`);
  }
  return [...out];
}
