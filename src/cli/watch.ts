import { declareInterruptHandled, shutdownSignal } from '../lifecycle.js';
import { sleep } from '../sleep.js';

export interface WatchOptions {
  intervalMs: number;
  /** A terminal: redraw in place. Otherwise each frame is printed after the last, under a rule. */
  tty: boolean;
  /** Frames exactly as made, one per write (JSON lines): no footer, no separation. */
  bare?: boolean;
  write(text: string): void;
}

const home = '\x1b[H';
const clearLineEnd = '\x1b[K';
const clearBelow = '\x1b[J';

/**
 * Draw frame() every interval until SIGINT/SIGTERM. On a terminal each frame overwrites the last
 * line by line (no clear-screen flicker); piped, frames follow one another. A frame that fails
 * (the database away) shows its error in place of the tables and the watch goes on.
 */
export async function watch(frame: () => Promise<string>, options: WatchOptions): Promise<void> {
  declareInterruptHandled();
  let first = true;
  while (!shutdownSignal.aborted) {
    let text: string;
    try {
      text = await frame();
    } catch (err) {
      text = `cesar status --watch: ${(err as Error).message}; trying again in ${options.intervalMs / 1000} s`;
    }
    const stamped = `${text}\n\n(every ${options.intervalMs / 1000} s; Ctrl-C to stop)`;
    if (options.bare) {
      options.write(text);
    } else if (options.tty) {
      options.write(`${first ? '\x1b[2J' : ''}${home}${stamped.split('\n').join(`${clearLineEnd}\n`)}${clearLineEnd}\n${clearBelow}`);
    } else {
      options.write(`${first ? '' : '\n'}${stamped}\n`);
    }
    first = false;
    await sleep(options.intervalMs, shutdownSignal).catch(() => undefined);
  }
}
