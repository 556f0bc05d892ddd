// A container without a mount namespace (runc's chroot mode) mounts in the
// runtime's own namespace: the init binds the rootfs onto itself and mounts
// everything below that bind. Nothing unmounts it when the container exits,
// so delete (and a failed create) detaches the bind, which takes every mount
// below it along. Only a bind the container added is detached: the number of
// mounts stacked on the rootfs before create is kept in state.json, and a
// rootfs that was a mount point already (an engine's overlay) stays mounted.
import { realpathSync } from 'node:fs';
import { native } from '../native/binding.js';
import { readMountinfo } from '../mountinfo.js';
import type { Spec } from '../oci/types.js';

export interface HostMounts {
  /** The rootfs as the kernel names it (symlinks resolved). */
  path: string;
  /** Mounts stacked on `path` before the container made its bind. */
  depth: number;
}

export const usesHostMountNamespace = (spec: Spec): boolean =>
  !(spec.linux?.namespaces ?? []).some((ns) => ns.type === 'mount');

function stackDepth(path: string): number {
  return readMountinfo().filter((m) => m.mountPoint === path).length;
}

/** Before create: how many mounts the rootfs already carries. */
export function hostMountsBefore(rootfs: string): HostMounts {
  const path = realpathSync(rootfs);
  return { path, depth: stackDepth(path) };
}

/** Detaches what the container stacked on its rootfs since `before`. */
export function detachHostMounts(before: HostMounts): void {
  for (let n = stackDepth(before.path); n > before.depth; n--) native().detachMount(before.path);
}
