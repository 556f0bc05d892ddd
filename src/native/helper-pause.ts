// A pause of the init helper (MSG_HOOKS, spawnContainer's onHooks): the
// helper waits on the fd for one byte, 'h' to go on, anything else to exit.
// Used for the systemd scope (stage 0) and the runtime's hooks (createRuntime
// point); after spawnContainer rejected, failure() says why the work failed.
import { closeSync, writeSync } from 'node:fs';

export class HelperPause {
  private running?: Promise<void>;

  /** Runs `work`, then answers 'h' if it succeeded, 'a' if not, and closes fd. */
  answer(fd: number, work: () => Promise<void>): void {
    this.running = (async () => {
      let answer = 'a';
      try {
        await work();
        answer = 'h';
      } finally {
        try {
          writeSync(fd, answer);
        } catch {
          // The helper is gone already; spawnContainer reports that.
        }
        closeSync(fd);
      }
    })();
    this.running.catch(() => {}); // observed through failure()
  }

  /** The work's error, once it is over; undefined if it succeeded or never ran. */
  async failure(): Promise<unknown> {
    try {
      await this.running;
      return undefined;
    } catch (err) {
      return err;
    }
  }
}
