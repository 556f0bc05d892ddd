// The state object hooks read on stdin (runtime-spec runtime.md#state): only
// the OCI fields, as runc passes them. `pid` is the init's pid in the pid
// namespace the hook runs in, so the helper fills it in for the hooks it runs.
import type { Status } from '../state/status.js';

export interface HookState {
  ociVersion: string;
  id: string;
  status: Status;
  /** Absent once the container has stopped (runc omits a zero pid). */
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

export interface StateSource {
  ociVersion: string;
  id: string;
  bundle: string;
  annotations?: Record<string, string>;
}

export function hookState(src: StateSource, status: Status, pid?: number): HookState {
  const annotated = src.annotations !== undefined && Object.keys(src.annotations).length > 0;
  return {
    ociVersion: src.ociVersion,
    id: src.id,
    status,
    ...(pid !== undefined && pid > 0 ? { pid } : {}),
    bundle: src.bundle,
    ...(annotated ? { annotations: src.annotations } : {}),
  };
}

/** The state JSON split where the pid goes, for the helper (the plan's hooks.stateCreate / stateStart). */
export function statePieces(src: StateSource, status: Status): [string, string] {
  const { ociVersion, id, bundle, annotations } = hookState(src, status);
  const head = JSON.stringify({ ociVersion, id, status });
  const tail = JSON.stringify(annotations === undefined ? { bundle } : { bundle, annotations });
  return [`${head.slice(0, -1)},"pid":`, `,${tail.slice(1)}`];
}
