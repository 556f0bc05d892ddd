// A one-line progress bar (bytes read and the current layer) for terminals.
// Redrawn at most every 100 ms, with plain writes to the terminal's fd, so it
// costs nothing measurable while thousands of small files go by; erased when
// done so the terminal is left clean.
import { writeSync } from 'node:fs';

export interface ProgressSink {
  /** Before the first layer: the bytes of all layers (when every size is known) and how many layers. */
  start(totalBytes: number | undefined, layers: number): void;
  /** Layer `index` (0-based) starts. */
  layer(index: number): void;
  advance(bytes: number): void;
  done(): void;
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

export class ProgressBar implements ProgressSink {
  private layerIndex = 0;
  private layerCount = 0;
  private done_ = 0;
  private last = 0;
  private shown = false;
  private total: number | undefined;

  constructor(private readonly fd: number, private readonly columns: () => number) {}

  start(totalBytes: number | undefined, layers: number): void {
    this.total = totalBytes;
    this.layerCount = layers;
  }

  layer(index: number): void {
    this.layerIndex = index;
    this.draw(true);
  }

  advance(bytes: number): void {
    this.done_ += bytes;
    this.draw(false);
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const label = `layer ${this.layerIndex + 1}/${this.layerCount}`;
    const amount = this.total ? `${mib(this.done_)} / ${mib(this.total)}` : mib(this.done_);
    const width = Math.max(10, Math.min(40, this.columns() - label.length - amount.length - 6));
    const frac = this.total ? Math.min(1, this.done_ / this.total) : 0;
    const filled = Math.round(frac * width);
    const bar = this.total ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
    this.write(`\r${bar}${amount}  ${label}\x1b[K`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) this.write('\r\x1b[K');
    this.shown = false;
  }

  private write(s: string): void {
    try {
      writeSync(this.fd, s);
    } catch {
      // A progress bar is not worth failing an unpack for (EAGAIN, closed terminal).
    }
  }
}
