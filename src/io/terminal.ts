// The attached terminal of `run` and `exec` in the foreground: the caller's
// terminal goes raw (keys such as ^C reach the container's pty, which turns
// them into signals there), bytes are copied both ways by the addon's proxy
// thread, window-size changes follow SIGWINCH, and everything is put back
// when the process is done.
import { closeSync } from 'node:fs';
import { native } from '../native/binding.js';
import type { SignalSource } from '../caller.js';

export interface TerminalOptions {
  /** Copied into the pty; default 0. -1 for nothing. */
  input?: number;
  /** Receives the pty's output; default 1. */
  output?: number;
  /** Where SIGWINCH comes from; default this process. */
  signals?: SignalSource;
}

/**
 * How long the copy may go on after the process exited. The kernel reports
 * the end (EIO) once no slave is open, which is at once when the process was
 * alone on the pty; a background process that keeps it would otherwise keep
 * us waiting for as long as it lives.
 */
const LINGER_MS = 1000;

/** Gives the pty the size of the first of `from` that is a terminal; false when none is. */
export function copyWindowSize(from: number[], master: number): boolean {
  const addon = native();
  for (const fd of from) {
    const size = fd >= 0 ? addon.getWinsize(fd) : null;
    if (!size) continue;
    if (size.rows === 0 && size.cols === 0) return false;
    try {
      addon.setWinsize(master, size.rows, size.cols);
    } catch {
      return false;  // the pty is already gone: nothing left to resize
    }
    return true;
  }
  return false;
}

export class AttachedTerminal {
  private readonly saved: Buffer | null;
  private readonly savedFd: number;
  private readonly sizeSource: number | undefined;
  private readonly proxy: { stop(): void };
  private readonly done: Promise<void>;
  private finished = false;
  private readonly onResize = (): void => this.resize();
  private readonly signals: SignalSource;

  constructor(private readonly master: number, opts: TerminalOptions = {}) {
    const addon = native();
    const input = opts.input ?? 0;
    const output = opts.output ?? 1;
    this.sizeSource = [input, output].find((fd) => fd >= 0 && addon.getWinsize(fd) !== null);
    this.resize();
    // Raw only when the input is a terminal; makeRaw leaves anything else alone.
    this.saved = input >= 0 ? addon.makeRaw(input) : null;
    this.savedFd = input;
    let resolve!: () => void;
    this.done = new Promise((r) => { resolve = r; });
    this.proxy = addon.proxyTerminal(master, input, output, resolve);
    this.signals = opts.signals ?? process;
    this.signals.on('SIGWINCH', this.onResize);
  }

  /** Copies the caller's window size to the pty; the kernel then signals the container's foreground group. */
  resize(): void {
    if (this.sizeSource !== undefined) copyWindowSize([this.sizeSource], this.master);
  }

  /** Waits for the output to end (bounded), then restores the caller's terminal. Idempotent. */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise<void>((r) => { timer = setTimeout(r, LINGER_MS); })]);
    clearTimeout(timer);
    this.proxy.stop();
    await this.done;
    this.restore();
    closeSync(this.master);
  }

  /** Puts the caller's terminal back; safe to call from an exit path. */
  restore(): void {
    this.signals.off('SIGWINCH', this.onResize);
    if (this.saved) {
      try {
        native().restoreTermios(this.savedFd, this.saved);
      } catch {
        // The terminal went away (hangup): nothing to restore.
      }
    }
  }
}
