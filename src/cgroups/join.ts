// The cgroups an exec'd process joins: exactly those of the container's init,
// read from /proc/<pid>/cgroup, so it works whoever placed the init (ocirun's
// cgroup manager, an engine, or nobody) and on v1, v2 and hybrid hosts.
import { readFileSync } from 'node:fs';
import { readMountinfo, visibleMounts, type MountEntry } from '../mountinfo.js';
import type { ExecPlan } from '../native/plan-schema.js';
import { parseMembership } from './layout.js';

type ExecCgroups = NonNullable<ExecPlan['cgroup']>;

function mountFor(mounts: readonly MountEntry[], controllers: string, path: string): MountEntry | undefined {
  const wanted = controllers === '' ? [] : controllers.split(',');
  return mounts.find((m) => {
    if (controllers === '' ? m.fstype !== 'cgroup2' : m.fstype !== 'cgroup') return false;
    if (!wanted.every((c) => m.superOptions.includes(c))) return false;
    // A bind of a subtree only reaches cgroups below its root.
    return m.root === '/' || path === m.root || path.startsWith(`${m.root}/`);
  });
}

export interface JoinOptions {
  /** The process joins the container's cgroup namespace (the cgroup2 check under nsdelegate). */
  joinsCgroupNamespace: boolean;
  /** The runtime is root: the container's cgroup2 directory is writable after joining its user namespace. */
  root: boolean;
}

/**
 * How the exec'd process joins every hierarchy where the init is in a cgroup
 * other than ours (nothing where it shares all of ours). Hierarchies this
 * mount namespace does not show (unmounted, or hidden by a mount over them)
 * are skipped: there is nothing to write to.
 *
 * Not our pid to cgroup.procs where it can be helped: that takes the kernel's
 * global cgroup_threadgroup_rwsem and waits for an RCU grace period unless
 * another such write came just before (docs/performance.md). v1: the
 * single-threaded stage 0 writes "0" to `tasks`, moving itself without the
 * lock. cgroup2: the process is cloned into the cgroup (CLONE_INTO_CGROUP),
 * which the kernel judges after stage 0 joined the container's namespaces
 * (cgroup_css_set_fork): the writer's own credentials, and under nsdelegate
 * both cgroups must be inside its cgroup namespace, which a joined one's
 * never holds ours. Rootless or there, today's cgroup.procs write.
 */
export function execCgroupPlacement(initPid: number, selfPid: number, opts: JoinOptions): ExecCgroups {
  let theirs: string;
  try {
    theirs = readFileSync(`/proc/${initPid}/cgroup`, 'utf8');
  } catch {
    return { procs: [] };  // the init is gone; joining its namespaces will say so
  }
  return cgroupPlacementToJoin(theirs, readFileSync(`/proc/${selfPid}/cgroup`, 'utf8'), readMountinfo(), opts);
}

/** execCgroupPlacement on the texts of /proc/<init>/cgroup and /proc/self/cgroup, and our mountinfo. */
export function cgroupPlacementToJoin(initCgroups: string, ownCgroups: string, mountinfo: readonly MountEntry[],
  opts: JoinOptions): ExecCgroups {
  const ours = parseMembership(ownCgroups);
  const mounts = visibleMounts(mountinfo);
  const out: ExecCgroups = { procs: [], tasks: [] };
  for (const [controllers, path] of parseMembership(initCgroups)) {
    if (ours.get(controllers) === path) continue;
    const m = mountFor(mounts, controllers, path);
    if (!m) continue;
    const rel = m.root === '/' ? path : path.slice(m.root.length);
    const dir = `${m.mountPoint}${rel === '/' ? '' : rel}`;
    if (m.fstype !== 'cgroup2') out.tasks!.push(`${dir}/tasks`);
    else if (opts.root && !(opts.joinsCgroupNamespace && m.superOptions.includes('nsdelegate'))) out.dir = dir;
    else out.procs.push(`${dir}/cgroup.procs`);
  }
  if (out.tasks!.length === 0) delete out.tasks;
  return out;
}
