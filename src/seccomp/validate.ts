// Rules for linux.seccomp that the schema cannot express. Names of syscalls
// are not checked here: only the libseccomp inside ocirun-init knows them, and
// an unknown one is skipped with a warning (as runc does) when the filter is
// built.
import type { LinuxSeccomp, Spec } from '../oci/types.js';
import { SECCOMP_ARCH_NAMES } from '../oci/tables.js';
import { type Report, index } from '../config/report.js';

/** SECCOMP_RET_DATA: errno values travel in 16 bits (the kernel caps them at 4095). */
const MAX_ERRNO_RET = 0xffff;
/** sizeof(sockaddr_un.sun_path) minus the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** The helper sends the notify fd to the listener with sendmsg(2) after the filter is loaded. */
const NOTIFY_FORBIDDEN = new Set(['sendmsg']);

const takesErrno = (action: string): boolean => action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE';

export function validateSeccomp(spec: Spec, r: Report): void {
  const sc: LinuxSeccomp | undefined = spec.linux?.seccomp;
  const base = 'linux.seccomp';
  if (sc === undefined || !r.ok(base)) return;

  if (sc.defaultAction === 'SCMP_ACT_NOTIFY') {
    // Every syscall would wait for an agent that cannot have the fd yet.
    r.error(`${base}.defaultAction`, 'SCMP_ACT_NOTIFY cannot be the default action');
  }
  checkErrno(r, `${base}.defaultErrnoRet`, sc.defaultErrnoRet, sc.defaultAction, 'defaultAction');

  (sc.architectures ?? []).forEach((arch, i) => {
    if (SECCOMP_ARCH_NAMES[arch] === null) r.error(index(`${base}.architectures`, i), `${arch} is not supported by the libseccomp in ocirun-init`);
  });

  let notify = false;
  (sc.syscalls ?? []).forEach((call, i) => {
    const at = index(`${base}.syscalls`, i);
    call.names.forEach((name, j) => {
      if (name === '') r.error(index(`${at}.names`, j), 'must not be empty');
      else if (call.action === 'SCMP_ACT_NOTIFY' && NOTIFY_FORBIDDEN.has(name)) {
        r.error(index(`${at}.names`, j), `SCMP_ACT_NOTIFY cannot be used for ${name}: ocirun needs it to hand the notify fd to the listener`);
      }
    });
    checkErrno(r, `${at}.errnoRet`, call.errnoRet, call.action, 'action');
    if (call.action === 'SCMP_ACT_NOTIFY') {
      notify = true;
      if (!sc.listenerPath) r.error(`${at}.action`, `SCMP_ACT_NOTIFY requires ${base}.listenerPath`);
    }
  });

  if (sc.listenerPath) {
    if (Buffer.byteLength(sc.listenerPath) > MAX_SOCKET_PATH) r.error(`${base}.listenerPath`, `must be at most ${MAX_SOCKET_PATH} bytes (a unix socket path)`);
    else if (!notify) r.warn(`${base}.listenerPath`, 'ignored: no rule uses SCMP_ACT_NOTIFY');
  } else if (sc.listenerMetadata) {
    r.warn(`${base}.listenerMetadata`, 'ignored without listenerPath');
  }
  (sc.flags ?? []).forEach((flag, i) => {
    if (flag === 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV' && !notify) {
      r.warn(index(`${base}.flags`, i), 'ignored: no rule uses SCMP_ACT_NOTIFY');
    }
  });
}

function checkErrno(r: Report, at: string, value: number | undefined, action: string, field: string): void {
  if (value === undefined) return;
  if (value > MAX_ERRNO_RET) r.error(at, `must be at most ${MAX_ERRNO_RET}`);
  else if (!takesErrno(action)) r.warn(at, `ignored: ${field} is ${action}`);
}
