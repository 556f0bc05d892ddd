// runc-compatible logging: --log FILE (default stderr), --log-format text|json.
// Engines (containerd's go-runc) read the json form to show a failure's cause.
import { appendFileSync, writeSync } from 'node:fs';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface LoggerOptions {
  file?: string;
  format?: LogFormat;
  debug?: boolean;
  /** Where messages go without --log (and when it cannot be written); default 2. */
  stderr?: number;
}

export class Logger {
  readonly debugEnabled: boolean;

  constructor(private readonly opts: LoggerOptions = {}) {
    this.debugEnabled = opts.debug ?? false;
  }

  private emit(level: LogLevel, msg: string): void {
    if (level === 'debug' && !this.debugEnabled) return;
    const time = new Date().toISOString();
    const line = this.opts.format === 'json'
      ? JSON.stringify({ level, msg, time }) + '\n'
      : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    if (this.opts.file) {
      try {
        appendFileSync(this.opts.file, line);
        return;
      } catch {
        // An unwritable log file must not hide the message itself.
      }
    }
    // Plain writeSync: process.stderr would switch a shared pipe to non-blocking mode.
    writeSync(this.opts.stderr ?? 2, line);
  }

  debug(msg: string): void { this.emit('debug', msg); }
  info(msg: string): void { this.emit('info', msg); }
  warn(msg: string): void { this.emit('warning', msg); }
  error(msg: string): void { this.emit('error', msg); }

  /** Records an error in the --log file, if there is one (the caller prints it itself). */
  errorToFileOnly(msg: string): void {
    if (this.opts.file) this.emit('error', msg);
  }
}
