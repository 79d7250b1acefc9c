// A worker that opens a linked list by handle and either works on it or stops for good in the
// middle of a cursor's call. Runs the built package (`npm run build` first).
//
// role 'churn': `count` times, pushes a frame at the back and pops the front (every fourth round
// through a cursor of its own), then answers { done, ms }. It never waits for anyone's cursor:
// cursors hold no lock between their calls.
//
// role 'stop': makes a cursor at the front and calls `takeCurrent()` (op 'take') or
// `insertBefore(frame)` (op 'insert', with a frame it allocates). The list's internal step that
// the cursor's call makes under the list's lock (`LinkedList.prototype.take` / `insert`) is
// patched to post { stopped, paddr } and then block for ever, before or after it does its work
// (when: 'before' | 'after'), so the main thread can terminate it there: it dies holding the
// list's lock, and, after the work, the frame taken or before the work, the frame to insert.
import { parentPort, workerData } from 'node:worker_threads';
import { FrameAllocOptions, FrameSystem, LinkedList, defineMeta } from '../../dist/index.js';

if (parentPort === null) throw new Error('list.worker.js runs as a worker thread');
const port = parentPort;
/**
 * @type {{ handle: import('../../dist/index.js').FrameSystemHandle, list: import('../../dist/index.js').LinkedListHandle,
 *          meta: string, role: 'churn' | 'stop', count?: number, op?: 'take' | 'insert', when?: 'before' | 'after' }}
 */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
const Meta = defineMeta(data.meta, { value: 'u32' }, { untyped: true }); // the main thread's MockUMeta
const list = LinkedList.open(sys, data.list, Meta);
const options = new FrameAllocOptions(sys);

if (data.role === 'churn') {
  port.postMessage({ workerId: sys.workerId });
  const started = performance.now();
  for (let i = 0; i < (data.count ?? 0); i++) {
    list.pushBack(options.allocUnique(Meta, { value: 1000 + i }));
    if (i % 4 === 3) {
      const c = list.cursorFrontMut();
      c.takeCurrent()?.drop(); // never Stale: nobody else changes the list meanwhile
      c.release();
    } else {
      list.popFront()?.drop();
    }
  }
  port.postMessage({ done: data.count, ms: performance.now() - started });
} else {
  const forever = new Int32Array(new SharedArrayBuffer(4));
  /** Tells the main thread where it stopped, then blocks until it is terminated. */
  const stop = (/** @type {number | null} */ paddr) => {
    port.postMessage({ stopped: `${data.op} ${data.when}`, paddr });
    for (;;) Atomics.wait(forever, 0, 0);
  };
  const proto = /** @type {Record<string, (...args: unknown[]) => unknown>} */ (/** @type {unknown} */ (LinkedList.prototype));
  const original = proto[data.op === 'take' ? 'take' : 'insert'];
  proto[data.op === 'take' ? 'take' : 'insert'] = function (/** @type {unknown[]} */ ...args) {
    const frame = /** @type {{ paddr: number } | undefined} */ (data.op === 'insert' ? args[0] : undefined);
    if (data.when === 'before') stop(frame?.paddr ?? null);
    const result = /** @type {{ paddr: number } | null | undefined} */ (original.apply(this, args));
    stop(data.op === 'take' ? (result?.paddr ?? null) : (frame?.paddr ?? null));
    return result;
  };
  port.postMessage({ workerId: sys.workerId });
  const cursor = list.cursorFrontMut();
  if (data.op === 'take') cursor.takeCurrent();
  else cursor.insertBefore(options.allocUnique(Meta, { value: 77 }));
}
