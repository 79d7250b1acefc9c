// A worker for test/death.test.ts that runs one operation of the library and stops for good at a
// named step of it: it posts `{ step, ... }`, then blocks for ever (Atomics.wait on a word of its
// own), alive and idle, until the test terminates it there, as a worker killed at that
// instruction. The steps are reached through seams that the built package (dist/) leaves open
// to a worker: a caller's callback (a segment's `init`), a class's method or static method
// (`Frame.prototype.intoRaw`, `Frame._restore`), or, where the step sits between two writes of
// a module function of region/channel-ring.ts that has no method around it, the global
// `Atomics.add` / `Atomics.load` of this worker, patched to stop at the one call that names the
// ring word the test gives (`word`, an index into the region's Int32Array).
import { parentPort as port, workerData } from 'node:worker_threads';
import { Frame, FrameAllocOptions, FrameChannel, FrameSystem, defineMeta } from '../../dist/index.js';

if (port === null) throw new Error('death-step.worker.js runs as a worker thread');
const parentPort = port;
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
/** The region's words (`sys._region` is internal: not in the package's types). */
const i32 = /** @type {{ _region: { i32: Int32Array } }} */ (/** @type {unknown} */ (sys))._region.i32;

/** Metadata of the segment the 'segment' command allocates (its `init` is the seam). */
const Block = defineMeta('test.death.block', { index: 'u32' });

/**
 * Tells the test that this worker reached `step` (with `info`), then never returns.
 * @param {string} step @param {object} [info]
 * @returns {never}
 */
function stopAt(step, info = {}) {
  parentPort.postMessage({ step, workerId: sys.workerId, ...info });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error('unreachable');
}

/**
 * Makes this worker's `Atomics[name]` stop at `step` when it is called on the region's words at
 * index `word`: before the call (`before`) or right after it.
 * @param {'add' | 'load'} name @param {number} word @param {string} step @param {boolean} before
 */
function stopAtAtomics(name, word, step, before) {
  const original = /** @type {(a: Int32Array, i: number, v: number) => number} */ (Atomics[name]);
  /** @param {Int32Array} a @param {number} i @param {number} v */
  const patched = (a, i, v) => {
    if (a === i32 && i === word && before) stopAt(step);
    const result = original(a, i, v);
    if (a === i32 && i === word) stopAt(step);
    return result;
  };
  Object.defineProperty(Atomics, name, { value: patched, configurable: true, writable: true });
}

/**
 * The commands. Each runs its operation; reaching the end means the step was never reached,
 * which the test is told as an error.
 * @type {Record<string, (msg: any) => void>}
 */
const commands = {
  // Allocates a segment of `n` frames with `init`, which claimRange calls for each frame before
  // it claims it: at the call for frame `stopAfter`, frames 0 .. stopAfter - 1 are claimed (busy,
  // their metadata written), the rest taken from the allocator but not claimed.
  segment(msg) {
    let k = 0;
    let start = -1;
    new FrameAllocOptions(sys).allocSegmentWith(msg.n, Block, (paddr) => {
      if (k === 0) start = paddr;
      if (k === msg.stopAfter) stopAt('segment:claimed', { start, claimed: k });
      return { index: k++ };
    });
  },

  // Sends a fresh frame (or a segment of `nframes`) tagged `tag`, stopping at `msg.step`:
  // - 'send:locked': trySend holds the channel's lock and calls the item's intoRaw: nothing is
  //   written yet (the item is still this worker's handle);
  // - 'send:written': enqueue has written the entry and the tail, not yet counted the send
  //   (`Atomics.add` of the `sent` word, `word`): the lock is held, nobody is notified;
  // - 'send:unlocked': the lock is released and the wake-up is due: wakeReceivers is about to
  //   read the count of receive waiters (`Atomics.load` of that word, `word`) and notify them;
  //   a receiver asleep is not woken.
  send(msg) {
    const ch = FrameChannel.open(sys, msg.ch);
    const item = msg.nframes === undefined ? sys.allocFrame() : sys.allocSegment(msg.nframes);
    item.bytes()[0] = msg.tag;
    const paddr = item instanceof Frame ? item.paddr : item.startPaddr;
    if (msg.step === 'send:locked') {
      const proto = /** @type {{ intoRaw: () => unknown }} */ (Object.getPrototypeOf(item));
      proto.intoRaw = () => stopAt('send:locked', { paddr });
    } else if (msg.step === 'send:written') stopAtAtomics('add', msg.word, 'send:written', true);
    else if (msg.step === 'send:unlocked') stopAtAtomics('load', msg.word, 'send:unlocked', true);
    else throw new Error(`unknown step ${msg.step}`);
    parentPort.postMessage({ sending: true, paddr });
    ch.send(item, 5000);
  },

  // Receives, stopping at `msg.step`:
  // - 'receive:restored': take holds the lock and has made the handle for the head entry
  //   (Frame._restore returned); the head has not moved: the entry is still queued;
  // - 'receive:dequeued': the head has moved (the entry left the ring: the frame is this
  //   worker's, through the handle made for it), the receive not yet counted (`Atomics.add` of
  //   the `received` word, `word`): the lock is held, no sender is notified.
  receive(msg) {
    const ch = FrameChannel.open(sys, msg.ch);
    if (msg.step === 'receive:restored') {
      // `Frame._restore` is internal: not in the package's types.
      const F = /** @type {{ _restore: (...args: unknown[]) => { paddr: number } }} */ (/** @type {unknown} */ (Frame));
      const restore = F._restore;
      F._restore = (...args) => {
        const f = restore.apply(Frame, args);
        return stopAt('receive:restored', { paddr: f.paddr });
      };
    } else if (msg.step === 'receive:dequeued') stopAtAtomics('add', msg.word, 'receive:dequeued', true);
    else throw new Error(`unknown step ${msg.step}`);
    ch.receive(undefined, 5000);
  },
};

parentPort.on('message', (msg) => {
  try {
    const run = commands[msg.cmd];
    if (run === undefined) throw new Error(`unknown command ${String(msg.cmd)}`);
    run(msg);
    parentPort.postMessage({ error: `${msg.cmd} ended without reaching ${msg.step ?? 'its step'}` });
  } catch (e) {
    parentPort.postMessage({ error: String(e instanceof Error ? (e.stack ?? e) : e) });
  }
});
parentPort.postMessage({ workerId: sys.workerId });
