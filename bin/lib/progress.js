// A progress indicator for long commands. On a terminal: one line that rewrites itself (`\r`,
// then erase to the end of the line) at most every 100 ms. Elsewhere (a pipe, a CI log): a plain
// line at most once a second, so logs stay readable. `finish` leaves the final line in both.

/**
 * @typedef {object} ProgressStream What the indicator writes to (process.stdout, or a fake).
 * @property {(s: string) => unknown} write
 * @property {boolean} [isTTY]
 */

export class Progress {
  /**
   * @param {ProgressStream} stream
   * @param {{ tty?: boolean, now?: () => number, ttyIntervalMs?: number, lineIntervalMs?: number }} [options]
   *   `tty` overrides `stream.isTTY`; `now` is the clock (ms).
   */
  constructor(stream, options = {}) {
    this.stream = stream;
    this.tty = options.tty ?? stream.isTTY === true;
    this.now = options.now ?? (() => performance.now());
    this.interval = this.tty ? (options.ttyIntervalMs ?? 100) : (options.lineIntervalMs ?? 1000);
    this.last = this.now();
    /** Whether the terminal line holds a progress text now. */
    this.open = false;
  }

  /**
   * Reports progress; written only if the interval has passed since the last report.
   * @param {string | (() => string)} text one line, without a newline; a function is called only
   *   when the line is due (so a hot loop pays for the clock read alone)
   * @returns {boolean} whether it was written
   */
  update(text) {
    const t = this.now();
    if (t - this.last < this.interval) return false;
    this.last = t;
    if (typeof text === 'function') text = text();
    if (this.tty) {
      this.stream.write(`\r${text}\x1b[K`);
      this.open = true;
    } else {
      this.stream.write(`${text}\n`);
    }
    return true;
  }

  /**
   * Writes a line of its own (a message while the indicator runs) without garbling the progress line.
   * @param {string} text
   */
  log(text) {
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /**
   * The final report: replaces the progress line on a terminal, or follows the plain lines.
   * @param {string} text
   */
  finish(text) {
    this.clear();
    this.stream.write(`${text}\n`);
  }

  /** Erases the progress line on a terminal. */
  clear() {
    if (this.open) this.stream.write('\r\x1b[K');
    this.open = false;
  }
}
