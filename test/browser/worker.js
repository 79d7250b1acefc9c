// The module Web Worker of the browser test (see page.js for the scenario). It imports the
// package's real build, attaches to the page's region, and runs the commands the page posts,
// one at a time: `{ id, cmd, ...args }` is answered with `{ id, ok: true, value }` or
// `{ id, ok: false, error }`. Errors outside a command are posted as `{ fatal }`.
/* global self */
import { Frame, FrameChannel, FrameSystem, defineMeta, runtimeSupport } from '../../dist/index.js';
import { CHANNEL_SEED, DROP_SEED, PAGE_SEED, REPLY_SEED, describeMemory, fillPattern, info, seen, sleep } from './common.js';

/**
 * @typedef {import('./common.js').Seen} Seen
 * @typedef {import('./common.js').ErrorInfo} ErrorInfo
 *
 * @typedef {object} AttachReply
 * @property {number} workerId this worker's id in the region
 * @property {number[]} workers the attached workers, as this worker sees them
 * @property {number} nframes
 * @property {boolean} checked inherited from the region
 * @property {boolean} crossOriginIsolated the worker's own flag
 * @property {string} memory the kind of memory the handle arrived with (`describeMemory`)
 * @property {import('../../dist/index.js').RuntimeSupport} support what pageframe found this
 *   worker's thread can do (`runtimeSupport`)
 *
 * @typedef {object} TakeReply
 * @property {number} countOnArrival the frame's reference count after `Frame.fromRaw`
 * @property {number} countWithClone after one more clone in this worker
 * @property {Seen} seen the bytes as this worker read them (expecting the page's pattern)
 * @property {number} backPaddr the address the reference is handed back with (`intoRaw`)
 *
 * @typedef {object} DropReply
 * @property {number} countOnArrival
 * @property {Seen} seen
 * @property {string | null} fromInUseAfterDrop the GetFrameError code of `Frame.fromInUse` after
 *   this worker's last drop (null if it did not throw)
 *
 * @typedef {object} NoteSeen
 * @property {number} seq the typed metadata field, read in this worker
 * @property {number} count the reference count on arrival
 * @property {number} hitsOnArrival the atomic field on arrival
 * @property {string} type the frame's metadata type name
 *
 * @typedef {object} NotesReply
 * @property {NoteSeen[]} received in order of arrival
 * @property {number[]} drops the notes whose last drop ran this worker's onDrop
 * @property {number} capacity the channel's capacity as opened here
 *
 * @typedef {object} SendBackReply
 * @property {number} paddr the frame sent
 * @property {number} countAfterSend this worker's clone's count once the frame was queued
 *
 * @typedef {object} CloseReply
 * @property {number} keptCountBeforeDrop the count of the frame sent back, seen by its last
 *   clone here just before dropping it
 * @property {number[]} workersBeforeClose
 *
 * @typedef {object} GrowFillReply
 * @property {number} nframesSeen the region's frames as this worker saw them (after the page's grow)
 * @property {number[]} paddrs the frames it filled, forgotten for the page
 */

/** @type {FrameSystem | undefined} */
let sys;
/** Seqs of the notes whose last drop happened in this worker. @type {number[]} */
const drops = [];
/** The same name and schema as in page.js: one registered type in the region. */
const Note = defineMeta('browser-test.note', { seq: 'u32', hits: 'atomic-u32' }, { onDrop: (meta) => void drops.push(meta.seq) });

/** The channels this worker opened or created (closed by `close`). @type {FrameChannel[]} */
const channels = [];
/** The channel this worker sends on (`replyChannel`). @type {FrameChannel | undefined} */
let replies;
/** A clone of the frame sent back through the reply channel. @type {Frame | undefined} */
let kept;

/** @returns {FrameSystem} */
function region() {
  if (sys === undefined) throw new Error('not attached yet');
  return sys;
}


/** @type {Record<string, (msg: any) => unknown>} */
const commands = {
  /** @returns {AttachReply} */
  attach(msg) {
    sys = FrameSystem.attach(msg.handle);
    return {
      workerId: sys.workerId,
      workers: sys.workers(),
      nframes: sys.nframes,
      checked: sys.checked,
      crossOriginIsolated: self.crossOriginIsolated,
      memory: describeMemory(msg.handle.memory),
      support: runtimeSupport(),
    };
  },

  /** Takes over a frame by address, checks it, writes the reply pattern, hands it back. @returns {TakeReply} */
  take(msg) {
    const frame = Frame.fromRaw(region(), msg.paddr);
    const countOnArrival = frame.referenceCount;
    const bytes = frame.bytes();
    const view = seen(bytes, PAGE_SEED);
    const clone = frame.clone();
    const countWithClone = frame.referenceCount;
    clone.drop();
    fillPattern(bytes, REPLY_SEED);
    return { countOnArrival, countWithClone, seen: view, backPaddr: frame.intoRaw() };
  },

  /** Takes over a frame and makes its last drop here. @returns {DropReply} */
  drop(msg) {
    const s = region();
    const frame = Frame.fromRaw(s, msg.paddr);
    const countOnArrival = frame.referenceCount;
    const view = seen(frame.bytes(), DROP_SEED);
    frame.drop();
    /** @type {string | null} */
    let fromInUseAfterDrop = null;
    try {
      Frame.fromInUse(s, msg.paddr).drop();
    } catch (e) {
      fromInUseAfterDrop = info(e).code ?? info(e).name;
    }
    return { countOnArrival, seen: view, fromInUseAfterDrop };
  },

  /** Opens the page's channel and receives `n` notes without blocking. @returns {Promise<NotesReply>} */
  async notes(msg) {
    const ch = FrameChannel.open(region(), msg.handle);
    channels.push(ch);
    /** @type {NoteSeen[]} */
    const received = [];
    for (let k = 0; k < msg.n; k++) {
      const note = await ch.receiveAsync(Note, 20_000);
      if (note === null) throw new Error(`note ${k + 1} of ${msg.n} did not arrive within 20 s`);
      received.push({ seq: note.meta.seq, count: note.referenceCount, hitsOnArrival: note.meta.hits.load(), type: note.metaType.name });
      note.meta.hits.add(10);
      note.drop();
    }
    return { received, drops: [...drops], capacity: ch.capacity };
  },

  /** Creates the channel this worker sends on. @returns {{ paddr: number }} */
  replyChannel() {
    replies = FrameChannel.create(region(), 2);
    channels.push(replies);
    return replies.handle;
  },

  /** After `delayMs`, sends a frame with the channel pattern, keeping a clone. @returns {Promise<SendBackReply>} */
  async sendBack(msg) {
    const ch = replies;
    if (ch === undefined) throw new Error('sendBack before replyChannel');
    const frame = region().allocFrame();
    fillPattern(frame.bytes(), CHANNEL_SEED);
    kept = frame.clone();
    await sleep(msg.delayMs);
    const paddr = frame.paddr;
    if (!ch.send(frame, 5_000)) throw new Error('the reply channel stayed full');
    return { paddr, countAfterSend: kept.referenceCount };
  },

  /** Allocates `n` frames (some past the end it knew: the page grew the region), writes each, and hands them over by address. @returns {GrowFillReply} */
  growFill(msg) {
    const s = region();
    const nframesSeen = s.nframes;
    const paddrs = [];
    for (let k = 0; k < msg.n; k++) {
      const f = s.allocFrame();
      const b = f.bytes();
      b[0] = (f.paddr / 4096) & 0xff;
      b[4095] = 0x5a;
      paddrs.push(f.intoRaw());
    }
    return { nframesSeen, paddrs };
  },

  /** Drops what this worker still holds and detaches. @returns {CloseReply} */
  close() {
    const s = region();
    const keptCountBeforeDrop = kept?.referenceCount ?? -1;
    kept?.drop();
    kept = undefined;
    for (const ch of channels.splice(0)) ch.close();
    const workersBeforeClose = s.workers();
    s.close();
    return { keptCountBeforeDrop, workersBeforeClose };
  },
};

self.addEventListener('message', (event) => {
  const msg = event.data;
  const command = commands[msg.cmd];
  Promise.resolve()
    .then(() => {
      if (command === undefined) throw new Error(`unknown command ${String(msg.cmd)}`);
      return command(msg);
    })
    .then(
      (value) => self.postMessage({ id: msg.id, ok: true, value }),
      (e) => self.postMessage({ id: msg.id, ok: false, error: info(e) }),
    );
});
self.addEventListener('error', (event) => self.postMessage({ fatal: info(event.error ?? event.message) }));
self.addEventListener('unhandledrejection', (event) => self.postMessage({ fatal: info(event.reason) }));
