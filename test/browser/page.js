// The page of the browser test. It imports the package's real build (/dist/index.js, no
// bundler), and:
// - in a cross-origin-isolated page: creates a region, starts a module Web Worker that attaches
//   to it, hands frames over by address both ways, sends typed frames through a FrameChannel to
//   the worker and receives one back (the page's main thread may not block: only non-blocking
//   and async calls here), and checks at the end that every frame is free and the region
//   invariant holds;
// - in a page without the isolation headers: records what `FrameSystem.create` throws.
// Everything it saw goes into `window.__result` (a PageResult), which browser.test.ts reads.
// `?checked=1` runs the scenario in checked mode.
/* global window, document, Worker */
import { Frame, FrameChannel, FrameSystem, FrameSystemError, FrameUseError, Untyped, defineMeta, runtimeSupport } from '../../dist/index.js';
import { CHANNEL_SEED, DROP_SEED, PAGE_SEED, REPLY_SEED, describeMemory, fillPattern, info, seen, sleep } from './common.js';

/**
 * @typedef {import('./common.js').Seen} Seen
 * @typedef {import('./common.js').ErrorInfo} ErrorInfo
 * @typedef {import('./worker.js').AttachReply} AttachReply
 * @typedef {import('./worker.js').TakeReply} TakeReply
 * @typedef {import('./worker.js').DropReply} DropReply
 * @typedef {import('./worker.js').NotesReply} NotesReply
 * @typedef {import('./worker.js').SendBackReply} SendBackReply
 * @typedef {import('./worker.js').CloseReply} CloseReply
 * @typedef {import('./worker.js').GrowFillReply} GrowFillReply
 * @typedef {import('../../dist/index.js').FrameStats} FrameStats
 *
 * @typedef {object} Scenario
 * @property {number} workerId the page's worker id
 * @property {boolean} checked
 * @property {string} memory the kind of memory `FrameSystem.create` chose (`describeMemory`)
 * @property {AttachReply} attach what the worker saw when it attached
 * @property {number[]} workersAfterAttach the attached workers, as the page sees them
 * @property {{ countBeforeSend: number, paddr: number, worker: TakeReply, replyViaClone: Seen,
 *   backSamePaddr: boolean, countWithBack: number, countAfterBackDrop: number }} handover
 *   a frame handed to the worker and back by address; the page kept a clone
 * @property {{ usedBefore: number, usedAfter: number, worker: DropReply }} dropInWorker
 *   a frame whose last drop happens in the worker
 * @property {{ worker: NotesReply, keptCount: number, keptHits: number, pageDrops: number[],
 *   byTypeWhileKept: Record<string, number> }} notes
 *   typed frames sent page → worker through a FrameChannel; the page kept a clone of note 1
 * @property {{ blockingReceive: ErrorInfo | null, sent: SendBackReply, seen: Seen, count: number,
 *   samePaddr: boolean, countAfterWorkerDrop: number, worker: CloseReply }} channelBack
 *   a frame sent worker → page, received with receiveAsync on the main thread
 * @property {{ nframesBefore: number, nframesAfter: number, worker: GrowFillReply, pastOldEnd: number, allRead: boolean }} growth
 *   the page grows the region; the worker, attached before, allocates and writes frames past the
 *   old end, and the page reads them
 * @property {number[]} workersAtEnd
 * @property {FrameStats} stats at the end, after every handle was dropped
 * @property {ErrorInfo | null} invariants what `checkInvariants` threw (null: it passed)
 *
 * @typedef {object} PageResult
 * @property {boolean} crossOriginIsolated
 * @property {string} sharedArrayBuffer `typeof SharedArrayBuffer`
 * @property {import('../../dist/index.js').RuntimeSupport} support what pageframe found the
 *   page's main thread can do (`runtimeSupport`)
 * @property {'scenario' | 'no-shared-memory'} mode
 * @property {{ error: ErrorInfo | null, isFrameSystemError: boolean } | null} create
 *   no-shared-memory mode: what `FrameSystem.create` threw
 * @property {Scenario | null} scenario
 * @property {string} step the last step begun
 * @property {ErrorInfo | null} error why the scenario stopped, if it did
 * @property {string[]} workerErrors errors the worker reported outside a command, or its
 *   error events
 * @property {number} ms how long it took
 */

/** Per command, ms before the page gives up on the worker. */
const ASK_TIMEOUT = 20_000;

/** @type {PageResult} */
const result = {
  crossOriginIsolated: window.crossOriginIsolated,
  sharedArrayBuffer: typeof SharedArrayBuffer,
  support: runtimeSupport(),
  mode: window.crossOriginIsolated ? 'scenario' : 'no-shared-memory',
  create: null,
  scenario: null,
  step: 'start',
  error: null,
  workerErrors: [],
  ms: 0,
};


/**
 * The module worker and a request/response helper over postMessage.
 * @returns {{ worker: Worker, ask: <T>(cmd: string, args?: object) => Promise<T> }}
 */
function startWorker() {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'pageframe-peer' });
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>} */
  const pending = new Map();
  let nextId = 1;
  /** @param {string} what */
  const failAll = (what) => {
    result.workerErrors.push(what);
    for (const p of pending.values()) p.reject(new Error(`worker: ${what}`));
    pending.clear();
  };
  worker.addEventListener('message', (event) => {
    const msg = event.data;
    if (msg.fatal !== undefined) {
      failAll(`${msg.fatal.name}: ${msg.fatal.message}`);
      return;
    }
    const p = pending.get(msg.id);
    if (p === undefined) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else {
      // The worker's error, its stack (which starts with its name and message) and its code.
      const code = msg.error.code === undefined ? '' : `[code ${msg.error.code}] `;
      p.reject(new Error(`in the worker: ${code}${msg.error.stack ?? `${msg.error.name}: ${msg.error.message}`}`));
    }
  });
  // A module that fails to load or throws at top level shows up here (the message may be empty).
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    failAll(`error event: ${event.message || 'the worker failed to load or start: a failed import or a syntax error (see the failed requests)'}`);
  });
  worker.addEventListener('messageerror', () => failAll('messageerror: a message could not be deserialized'));
  /**
   * @template T
   * @param {string} cmd
   * @param {object} [args]
   * @returns {Promise<T>}
   */
  const ask = (cmd, args = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`worker: no answer to '${cmd}' within ${ASK_TIMEOUT} ms`));
      }, ASK_TIMEOUT);
      pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      worker.postMessage({ id, cmd, ...args });
    });
  return { worker, ask };
}

/**
 * The scenario in a cross-origin-isolated page.
 * @param {boolean} checked
 * @returns {Promise<Scenario>}
 */
async function scenario(checked) {
  /** Seqs of the notes whose last drop ran the page's onDrop. @type {number[]} */
  const pageDrops = [];
  // The same name and schema as in worker.js: one registered type in the region.
  const Note = defineMeta('browser-test.note', { seq: 'u32', hits: 'atomic-u32' }, { onDrop: (meta) => void pageDrops.push(meta.seq) });

  result.step = 'create';
  const sys = FrameSystem.create({ frames: 64, maxFrames: 256, checked });
  const { worker, ask } = startWorker();
  try {
    result.step = 'attach';
    /** @type {AttachReply} */
    const attach = await ask('attach', { handle: sys.handle });
    const workersAfterAttach = sys.workers();

    // 1. A frame to the worker by address and back; the page keeps a clone.
    result.step = 'handover';
    const frame = sys.allocFrame();
    fillPattern(frame.bytes(), PAGE_SEED);
    const keep = frame.clone();
    const countBeforeSend = keep.referenceCount;
    const paddr = frame.intoRaw();
    /** @type {TakeReply} */
    const took = await ask('take', { paddr });
    const replyViaClone = seen(keep.bytes(), REPLY_SEED); // written in place by the worker
    const back = Frame.fromRaw(sys, took.backPaddr);
    const backSamePaddr = back.paddr === keep.paddr;
    const countWithBack = keep.referenceCount;
    back.drop();
    const countAfterBackDrop = keep.referenceCount;
    keep.drop();
    const handover = { countBeforeSend, paddr, worker: took, replyViaClone, backSamePaddr, countWithBack, countAfterBackDrop };

    // 2. A frame whose last drop happens in the worker.
    result.step = 'drop in worker';
    const doomed = sys.allocFrame();
    fillPattern(doomed.bytes(), DROP_SEED);
    const usedBefore = sys.stats().used;
    /** @type {DropReply} */
    const dropped = await ask('drop', { paddr: doomed.intoRaw() });
    const dropInWorker = { usedBefore, usedAfter: sys.stats().used, worker: dropped };

    // 3. Typed frames page → worker through a channel; the worker waits with receiveAsync.
    result.step = 'notes';
    const toWorker = FrameChannel.create(sys, 4);
    /** @type {Promise<NotesReply>} */
    const notesDone = ask('notes', { handle: toWorker.handle, n: 3 });
    /** @type {Frame<typeof Note> | undefined} */
    let keptNote;
    for (const seq of [1, 2, 3]) {
      await sleep(25); // let the worker go to sleep in receiveAsync first
      const note = sys.allocFrame(Note, { seq });
      note.meta.hits.add(1);
      if (seq === 1) keptNote = note.clone();
      if (!toWorker.trySend(note)) throw new Error(`the channel to the worker is full at note ${seq}`);
    }
    const notesReply = await notesDone;
    if (keptNote === undefined) throw new Error('unreachable');
    const byTypeWhileKept = { ...sys.stats().byType };
    const keptCount = keptNote.referenceCount;
    const keptHits = keptNote.meta.hits.load();
    keptNote.drop(); // the last drop of note 1: the page's onDrop
    toWorker.close();
    const notes = { worker: notesReply, keptCount, keptHits, pageDrops: [...pageDrops], byTypeWhileKept };

    // 4. A frame worker → page through the worker's channel, received without blocking.
    result.step = 'channel back';
    /** @type {{ paddr: number }} */
    const replyHandle = await ask('replyChannel');
    const fromWorker = FrameChannel.open(sys, replyHandle);
    /** @type {ErrorInfo | null} */
    let blockingReceive = null;
    try {
      // Empty, and the main thread may not block: WouldBlock instead of a hang.
      fromWorker.receive(undefined, 10_000)?.drop();
    } catch (e) {
      blockingReceive = info(e);
      if (!(e instanceof FrameUseError)) throw e;
    }
    const arriving = fromWorker.receiveAsync(Untyped, 15_000);
    /** @type {SendBackReply} */
    const sent = await ask('sendBack', { delayMs: 50 });
    const got = await arriving;
    if (got === null) throw new Error('no frame arrived from the worker within 15 s');
    const gotBytes = seen(got.bytes(), CHANNEL_SEED);
    const count = got.referenceCount;
    const samePaddr = got.paddr === sent.paddr;
    // 5. Growth: the page grows the region; the worker (attached at 64 frames) fills frames past
    // the old end, and the page reads them.
    result.step = 'growth';
    const nframesBefore = sys.nframes;
    const nframesAfter = sys.grow(128);
    /** @type {GrowFillReply} */
    const filled = await ask('growFill', { n: 150 });
    let allRead = true;
    for (const p of filled.paddrs) {
      const f = Frame.fromRaw(sys, p);
      const b = f.bytes();
      if (b[0] !== ((p / 4096) & 0xff) || b[4095] !== 0x5a) allRead = false;
      f.drop();
    }
    const growth = { nframesBefore, nframesAfter, worker: filled, pastOldEnd: filled.paddrs.filter((p) => p >= nframesBefore * 4096).length, allRead };

    /** @type {CloseReply} */
    const closed = await ask('close');
    const countAfterWorkerDrop = got.referenceCount;
    got.drop();
    fromWorker.close();
    const channelBack = { blockingReceive, sent, seen: gotBytes, count, samePaddr, countAfterWorkerDrop, worker: closed };

    result.step = 'end';
    worker.terminate();
    const workersAtEnd = sys.workers();
    const stats = sys.stats();
    /** @type {ErrorInfo | null} */
    let invariants = null;
    try {
      sys.checkInvariants();
    } catch (e) {
      invariants = info(e);
    }
    return {
      workerId: sys.workerId,
      checked: sys.checked,
      memory: describeMemory(sys.handle.memory),
      attach,
      workersAfterAttach,
      handover,
      dropInWorker,
      notes,
      channelBack,
      growth,
      workersAtEnd,
      stats,
      invariants,
    };
  } finally {
    worker.terminate();
  }
}

/** What `FrameSystem.create` does without shared memory. */
function withoutSharedMemory() {
  result.step = 'create without SharedArrayBuffer';
  try {
    const sys = FrameSystem.create({ frames: 64 });
    sys.close();
    return { error: null, isFrameSystemError: false };
  } catch (e) {
    return { error: info(e), isFrameSystemError: e instanceof FrameSystemError };
  }
}

async function main() {
  const started = performance.now();
  try {
    if (result.mode === 'no-shared-memory') result.create = withoutSharedMemory();
    else result.scenario = await scenario(new URL(window.location.href).searchParams.get('checked') === '1');
  } catch (e) {
    result.error = info(e);
  }
  result.ms = Math.round(performance.now() - started);
  const out = document.getElementById('out');
  if (out !== null) out.textContent = JSON.stringify(result, null, 2);
  /** @type {{ __result?: PageResult }} */ (/** @type {unknown} */ (window)).__result = result;
}

void main();
