// Signal names and numbers for Linux x86_64 (also correct for aarch64, which
// uses the generic numbering for these). Used by `kill` and anything that
// prints a signal.
import { OciError } from '../errors.js';

export const SIGNALS: Readonly<Record<string, number>> = Object.freeze(Object.assign(Object.create(null) as Record<string, number>, {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGIOT: 6,
  SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12,
  SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15, SIGSTKFLT: 16, SIGCHLD: 17, SIGCLD: 17,
  SIGCONT: 18, SIGSTOP: 19, SIGTSTP: 20, SIGTTIN: 21, SIGTTOU: 22, SIGURG: 23,
  SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGWINCH: 28, SIGIO: 29,
  SIGPOLL: 29, SIGPWR: 30, SIGSYS: 31,
}));

/**
 * glibc's SIGRTMIN, not the kernel's 32: glibc reserves 32 and 33 for its own
 * threads, so 34 is what a program in the container means by SIGRTMIN.
 */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** Preferred name for each number (aliases such as SIGIOT lose to the first entry). */
const NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(SIGNALS)) if (!NAMES.has(num)) NAMES.set(num, name);

/**
 * Accepts a number, a decimal string, or a name with or without the SIG
 * prefix in any case ("TERM", "sigkill", "SIGRTMIN+3", "RTMAX-1").
 */
export function parseSignal(input: string | number): number {
  const bad = (): never => {
    throw new OciError('ERR_INVALID_ARGUMENT', `unknown signal ${JSON.stringify(String(input))}`);
  };
  if (typeof input === 'number') {
    if (!Number.isInteger(input) || input < 1 || input > SIGRTMAX) bad();
    return input;
  }
  const s = input.trim();
  if (/^[0-9]+$/.test(s)) return parseSignal(Number(s));
  let name = s.toUpperCase();
  if (!name.startsWith('SIG')) name = `SIG${name}`;
  const known = SIGNALS[name];
  if (known !== undefined) return known;
  const rt = /^SIGRT(MIN|MAX)(?:([+-])([0-9]+))?$/.exec(name);
  if (rt) {
    const base = rt[1] === 'MIN' ? SIGRTMIN : SIGRTMAX;
    const off = rt[2] === undefined ? 0 : Number(rt[3]);
    // SIGRTMIN-n and SIGRTMAX+n would leave the real-time range.
    if ((rt[1] === 'MIN' && rt[2] === '-' && off > 0) || (rt[1] === 'MAX' && rt[2] === '+' && off > 0)) bad();
    const num = rt[2] === '-' ? base - off : base + off;
    if (num >= SIGRTMIN && num <= SIGRTMAX) return num;
  }
  return bad();
}

/** "SIGTERM", "SIGRTMIN+2", "SIGRTMAX"; undefined for numbers without a name (32, 33). */
export function signalName(num: number): string | undefined {
  const named = NAMES.get(num);
  if (named !== undefined) return named;
  if (num === SIGRTMAX) return 'SIGRTMAX';
  if (num === SIGRTMIN) return 'SIGRTMIN';
  if (num > SIGRTMIN && num < SIGRTMAX) return `SIGRTMIN+${num - SIGRTMIN}`;
  return undefined;
}
