// update: new limits for a live container. The change is merged into the
// resources recorded at create, the result is validated like a config, the
// whole set is written to the cgroup again (device rules excepted: they cannot
// change) and recorded, so state.json always says what is in force.
import { isDeepStrictEqual } from 'node:util';
import type { RuntimeContext } from '../context.js';
import { ConfigError, OciError } from '../errors.js';
import { validateSpec } from '../config/validate.js';
import { managerFor } from '../cgroups/index.js';
import { applyLimits, requireCgroup } from '../cgroups/container.js';
import type { LinuxResources, Spec } from '../oci/types.js';
import { deriveStatus } from '../state/status.js';

const OBJECTS = ['memory', 'cpu', 'pids', 'blockIO', 'unified', 'network'] as const;

/** `update` over `base`: objects merge field by field, lists are replaced whole. */
export function mergeResources(base: LinuxResources, update: LinuxResources): LinuxResources {
  const out: LinuxResources = structuredClone(base);
  for (const [key, value] of Object.entries(update) as Array<[keyof LinuxResources, unknown]>) {
    if (value === undefined) continue;
    if ((OBJECTS as readonly string[]).includes(key) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      (out as Record<string, unknown>)[key] = { ...((out as Record<string, object>)[key] ?? {}), ...structuredClone(value) };
    } else {
      (out as Record<string, unknown>)[key] = structuredClone(value);
    }
  }
  return out;
}

/** Returns warnings (settings this cgroup version ignores). */
export async function updateContainer(ctx: RuntimeContext, id: string, update: LinuxResources): Promise<string[]> {
  return ctx.store.withLock(id, async () => {
    const record = ctx.store.read(id);
    const status = deriveStatus(ctx.store, record);
    if (status === 'stopped' || status === 'creating') {
      throw new OciError('ERR_NOT_RUNNING', `container "${id}" is not running (status ${status})`);
    }
    // Engines send the whole resources object back (containerd's shim does on
    // every UpdateContainerResources), device rules included and unchanged:
    // those are no change. runc ignores the field; a real change is refused.
    const recorded = record.config.linux?.resources?.devices;
    if (update.devices !== undefined && !isDeepStrictEqual(update.devices, recorded ?? [])) {
      throw new OciError('ERR_INVALID_ARGUMENT', 'linux.resources.devices: device rules cannot be changed by update');
    }
    const cgroup = requireCgroup(record);
    const resources = mergeResources(record.config.linux?.resources ?? {}, { ...update, devices: undefined });
    const config: Spec = { ...record.config, linux: { ...record.config.linux, resources } };
    const { spec, problems } = validateSpec(config, { requireProcess: false });
    const ours = problems.filter((p) => p.path.startsWith('linux.resources'));
    if (ours.length > 0) throw new ConfigError(ours);
    const manager = managerFor(cgroup);
    const limit = update.memory?.limit;
    if (resources.memory?.checkBeforeUpdate && limit !== undefined && limit > 0) {
      const usage = manager.memoryUsage();
      if (usage !== undefined && usage > BigInt(limit)) {
        throw new OciError('ERR_INVALID_ARGUMENT',
          `linux.resources.memory.limit: ${limit} is below the container's current usage (${usage} bytes) and memory.checkBeforeUpdate is set`);
      }
    }
    const warnings = await applyLimits(cgroup, spec.linux?.resources ?? {});
    record.config = spec;
    ctx.store.write(record);
    return warnings;
  });
}
