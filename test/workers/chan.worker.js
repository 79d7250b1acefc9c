// A worker for test/concurrency.test.ts: attaches to the region and runs the command the test
// sends it (ping-pong, churn, blocking and async receives), answering with postMessage.
// Every failed check is reported as a string in `errors` (or as `{ error }`), never thrown away.
import { setImmediate } from 'node:timers';
import { parentPort as port, workerData } from 'node:worker_threads';
import { Frame, FrameChannel, FrameSystem, UniqueFrame, defineMeta } from '../../dist/index.js';

if (port === null) throw new Error('chan.worker.js runs as a worker thread');
const parentPort = port;
const sys = FrameSystem.attach(workerData.handle);

/** The end-of-stream marker sent through channels (typed: no bytes). */
const EndMeta = defineMeta('test.concurrency.end', { from: 'u32' });

/** A typed metadata type that the frames main sends are not of. */
const OtherMeta = defineMeta('test.concurrency.other', { v: 'u32' });

/** First word of a stamped frame: STAMP + the sender's index. */
const STAMP = 0x5eed0000;

/**
 * The frame's first and last words, as a Uint32Array over shared memory.
 * @param {Frame} f
 */
function words(f) {
  const b = f.bytes();
  return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
}

/**
 * Writes who sent the frame and its sequence number, redundantly.
 * @param {Frame} f @param {number} from @param {number} seq
 */
function stamp(f, from, seq) {
  const w = words(f);
  w[0] = STAMP + from;
  w[1] = seq;
  w[2] = ~seq >>> 0;
  w[1023] = (seq ^ 0xa5a5a5a5) >>> 0;
}

/**
 * Checks a stamp; returns an error message or null.
 * @param {Frame} f @param {number} from @param {string} how
 */
function checkStamp(f, from, how) {
  const w = words(f);
  const seq = w[1];
  if (w[0] !== STAMP + from || w[2] !== (~seq >>> 0) || w[1023] !== ((seq ^ 0xa5a5a5a5) >>> 0)) {
    return `frame 0x${f.paddr.toString(16)} received by ${how} has a bad stamp [${w[0]}, ${w[1]}, ${w[2]}, ${w[1023]}]`;
  }
  return null;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lets queued messages (MessagePort hand-offs) run. */
function yieldLoop() {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Passes one frame back and forth with the main thread `n` times, incrementing the counter in
 * its first word each time it holds it. Main increments it to odd values, this worker to even.
 * @param {{ inbox: { paddr: number }, outbox: { paddr: number }, n: number }} msg
 */
function pingPong(msg) {
  const inbox = FrameChannel.open(sys, msg.inbox);
  const outbox = FrameChannel.open(sys, msg.outbox);
  /** @type {string[]} */
  const errors = [];
  /** @type {number | undefined} */
  let paddr;
  for (let i = 0; i < msg.n; i++) {
    const f = inbox.receive(undefined, 10_000);
    if (f === null) {
      errors.push(`round ${i}: nothing received within 10 s`);
      break;
    }
    paddr ??= f.paddr;
    if (f.paddr !== paddr) errors.push(`round ${i}: got frame 0x${f.paddr.toString(16)}`);
    const w = words(f);
    if (w[0] !== 2 * i + 1) errors.push(`round ${i}: counter ${w[0]}, expected ${2 * i + 1}`);
    w[0]++;
    if (!outbox.send(f, 10_000)) {
      errors.push(`round ${i}: could not send back within 10 s`);
      f.drop();
      break;
    }
  }
  inbox.close();
  outbox.close();
  parentPort.postMessage({ done: true, errors });
}

/**
 * @typedef {object} ChurnMsg
 * @property {number} index this worker's index among the churners
 * @property {{ paddr: number }[]} inboxes every churner's inbox; ours is inboxes[index], we send
 *   to inboxes[index + 1] (mod n)
 * @property {number[]} shared addresses of shared frames, each with one reference for us
 * @property {number} iterations
 * @property {number} rounds fromInUse/clone/drop rounds per shared frame per iteration
 * @property {import('node:worker_threads').MessagePort} inPort raw hand-offs from our predecessor
 * @property {import('node:worker_threads').MessagePort} outPort raw hand-offs to our successor
 * @property {SharedArrayBuffer} inFlight one Int32 per churner: raw hand-offs to it not yet taken
 * @property {number} maxInFlight no raw hand-off while that many are in flight (a dropped frame
 *   instead), so a descheduled churner cannot make the others run out of memory
 */

/**
 * Allocates, clones and drops frames; hands some to the next churner through its channel and
 * some as raw addresses through a MessagePort; hammers the shared frames with fromInUse, clone
 * and drop; checks every frame it gets; at the end drops everything it holds.
 * @param {ChurnMsg} msg
 */
async function churn(msg) {
  const { index, iterations, rounds } = msg;
  const n = msg.inboxes.length;
  const inFlight = new Int32Array(msg.inFlight);
  const prev = (index + n - 1) % n;
  const inbox = FrameChannel.open(sys, msg.inboxes[index]);
  const outbox = FrameChannel.open(sys, msg.inboxes[(index + 1) % n]);
  /** @type {string[]} */
  const errors = [];
  const counts = { chanSent: 0, chanReceived: 0, rawSent: 0, rawReceived: 0, dropped: 0 };
  const mine = msg.shared.map((p) => Frame.fromRaw(sys, p));
  /** @param {string | null} e */
  const report = (e) => {
    if (e !== null && errors.length < 20) errors.push(e);
  };

  /** @type {Promise<void>} */
  const rawDone = new Promise((resolve) => {
    msg.inPort.on('message', (/** @type {{ end?: boolean, paddr?: number }} */ m) => {
      if (m.end === true) {
        msg.inPort.close();
        resolve();
        return;
      }
      try {
        const f = Frame.fromRaw(sys, /** @type {number} */ (m.paddr));
        report(checkStamp(f, prev, 'postMessage'));
        if (f.referenceCount !== 1) report(`raw frame 0x${f.paddr.toString(16)} has count ${f.referenceCount}`);
        f.drop();
        Atomics.sub(inFlight, index, 1);
        counts.rawReceived++;
      } catch (e) {
        report(`raw hand-off: ${String(e)}`);
      }
    });
  });

  // Whether our predecessor's end marker came (it may finish before us): nothing follows it.
  let gotEnd = false;
  /** @param {Frame} f */
  const takeFromInbox = (f) => {
    if (gotEnd) report(`frame 0x${f.paddr.toString(16)} after the end marker`);
    const end = f.tryAs(EndMeta);
    if (end !== null) {
      const from = end.meta.from;
      end.drop();
      if (from !== prev) report(`end marker from ${from}, expected ${prev}`);
      gotEnd = true;
      return;
    }
    report(checkStamp(f, prev, 'channel'));
    f.drop();
    counts.chanReceived++;
  };
  const drainInbox = () => {
    for (let f = inbox.tryReceive(); f !== null; f = inbox.tryReceive()) takeFromInbox(f);
  };

  let seq = 0;
  for (let it = 0; it < iterations; it++) {
    // Fresh frames: zeroed, count 1, then stamped.
    /** @type {Frame[]} */
    const fresh = [];
    for (let k = 0; k < 1 + (it % 3); k++) {
      const f = sys.allocFrame();
      const w = words(f);
      for (let i = 0; i < w.length; i++) {
        if (w[i] !== 0) {
          report(`fresh frame 0x${f.paddr.toString(16)} is not zeroed at word ${i}: ${w[i]}`);
          break;
        }
      }
      if (f.referenceCount !== 1) report(`fresh frame 0x${f.paddr.toString(16)} has count ${f.referenceCount}`);
      stamp(f, index, seq++);
      fresh.push(f);
    }
    for (const f of fresh) {
      const a = f.clone();
      const b = a.clone();
      if (f.referenceCount !== 3) report(`private frame 0x${f.paddr.toString(16)} has count ${f.referenceCount}, expected 3`);
      a.drop();
      b.drop();
    }
    // The shared frames, cloned and dropped by every churner at once.
    for (const s of mine) {
      for (let r = 0; r < rounds; r++) {
        const g = Frame.fromInUse(sys, s.paddr);
        const h = g.clone();
        const c = h.referenceCount;
        if (c < 3) report(`shared frame 0x${s.paddr.toString(16)} has count ${c} while we hold 3`);
        if (UniqueFrame.tryFrom(h) !== null) report(`shared frame 0x${s.paddr.toString(16)} became unique`);
        g.drop();
        h.drop();
      }
    }
    // Hand-offs: the first fresh frame through the channel (dropped if full), the second (when
    // there is one, every other iteration) by address; the rest dropped here.
    const first = /** @type {Frame} */ (fresh.shift());
    if (outbox.trySend(first)) counts.chanSent++;
    else {
      first.drop();
      counts.dropped++;
    }
    const second = fresh.shift();
    if (second !== undefined && it % 2 === 0 && Atomics.load(inFlight, (index + 1) % n) < msg.maxInFlight) {
      Atomics.add(inFlight, (index + 1) % n, 1);
      msg.outPort.postMessage({ paddr: second.intoRaw() });
      counts.rawSent++;
    } else if (second !== undefined) fresh.push(second);
    for (const f of fresh) {
      report(checkStamp(f, index, 'self'));
      f.drop();
      counts.dropped++;
    }
    drainInbox();
    if (it % 8 === 7) await yieldLoop();
  }

  // The end: our end marker to the next churner (draining our inbox while its is full), then
  // everything from our predecessor up to its end marker.
  msg.outPort.postMessage({ end: true });
  msg.outPort.close();
  const end = sys.allocFrame(EndMeta, { from: index });
  for (let tries = 0; !outbox.trySend(end); tries++) {
    drainInbox();
    if (tries > 100_000) {
      report('could not send the end marker');
      end.drop();
      break;
    }
    await sleep(0);
  }
  while (!gotEnd) {
    const f = inbox.receive(undefined, 10_000);
    if (f === null) {
      report('no end marker from the predecessor within 10 s');
      break;
    }
    takeFromInbox(f);
  }
  if (inbox.size !== 0) report(`${inbox.size} item(s) in the inbox after the end marker`);
  await rawDone;
  for (const s of mine) s.drop();
  inbox.close();
  outbox.close();
  parentPort.postMessage({ done: true, errors, counts });
}

/**
 * Blocks in receive() (with an optional timeout; of `OtherMeta` frames only if `other`), then
 * answers with what it got. An error (WrongType) is answered as `{ error }`.
 * @param {{ ch: { paddr: number }, timeout?: number, other?: boolean }} msg
 */
function recv(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  parentPort.postMessage({ waiting: true });
  const t0 = performance.now();
  /** @type {Frame | null} */
  let f;
  try {
    f = msg.other === true ? ch.receive(OtherMeta, msg.timeout ?? Infinity) : ch.receive(undefined, msg.timeout ?? Infinity);
  } finally {
    ch.close();
  }
  const elapsed = performance.now() - t0;
  let byte = -1;
  let count = -1;
  if (f !== null) {
    byte = f.metaType.untyped ? f.bytes()[0] : -1;
    count = f.referenceCount;
    f.drop();
  }
  parentPort.postMessage({ paddr: f === null ? null : f.paddr, byte, count, elapsed });
}

/**
 * Sends one stamped frame, blocking while the channel is full, then answers.
 * @param {{ ch: { paddr: number }, tag: number }} msg
 */
function send(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  const f = sys.allocFrame();
  f.bytes()[0] = msg.tag;
  const paddr = f.paddr;
  parentPort.postMessage({ waiting: true, paddr });
  const sent = ch.send(f, 10_000);
  if (!sent) f.drop();
  ch.close();
  parentPort.postMessage({ sent });
}

/**
 * Receives (blocking) until an end marker; answers with the sequence numbers it got (the first
 * word of each frame).
 * @param {{ ch: { paddr: number } }} msg
 */
function recvMany(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  /** @type {number[]} */
  const seqs = [];
  /** @type {string[]} */
  const errors = [];
  parentPort.postMessage({ waiting: true });
  for (;;) {
    const f = ch.receive(undefined, 10_000);
    if (f === null) {
      errors.push('nothing received within 10 s');
      break;
    }
    const end = f.tryAs(EndMeta);
    if (end !== null) {
      end.drop();
      break;
    }
    seqs.push(words(f)[0]);
    f.drop();
  }
  ch.close();
  parentPort.postMessage({ done: true, seqs, errors });
}

/**
 * Tells the test `msg`, then never returns: the test terminates this worker there, as a worker
 * killed at that instruction.
 * @param {object} msg
 * @returns {never}
 */
function stopHere(msg) {
  parentPort.postMessage(msg);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error('unreachable');
}

/**
 * Stops for good inside trySend, while it holds the channel's lock (the frame's intoRaw, which
 * trySend calls under the lock, never returns), after telling the test: the test then terminates
 * this worker, as a worker killed at that instruction.
 * @param {{ ch: { paddr: number } }} msg
 */
function dieInSend(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  const f = sys.allocFrame();
  f.intoRaw = () => stopHere({ locked: true, workerId: sys.workerId, paddr: f.paddr });
  ch.trySend(f);
}

/**
 * Stops for good inside receive() (checked mode), while it holds the channel's lock and makes the
 * handle for the entry at the head (the leak tracker's stack capture, which take calls under the
 * lock, never returns), after telling the test: the test then terminates this worker, as a
 * worker killed at that instruction.
 * @param {{ ch: { paddr: number } }} msg
 */
function dieInReceive(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  const E = /** @type {{ captureStackTrace: (target: object, above?: unknown) => void }} */ (/** @type {unknown} */ (Error));
  E.captureStackTrace = () => stopHere({ locked: true, workerId: sys.workerId });
  ch.receive(undefined, 10_000);
}

/**
 * One trySend of a fresh frame tagged `tag`; answers whether it went in.
 * @param {{ ch: { paddr: number }, tag: number }} msg
 */
function trySendOne(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  const f = sys.allocFrame();
  f.bytes()[0] = msg.tag;
  const sent = ch.trySend(f);
  if (!sent) f.drop();
  ch.close();
  parentPort.postMessage({ sent, workerId: sys.workerId });
}

let pongs = 0;

/**
 * Waits in receiveAsync while answering pings; answers with the frame and how many pings it
 * answered meanwhile.
 * @param {{ ch: { paddr: number }, timeout?: number }} msg
 */
async function recvAsync(msg) {
  const ch = FrameChannel.open(sys, msg.ch);
  const t0 = performance.now(); // before the call: its timeout runs from there
  const pending = ch.receiveAsync(undefined, msg.timeout ?? Infinity);
  const before = pongs;
  parentPort.postMessage({ waiting: true });
  const f = await pending;
  const elapsed = performance.now() - t0;
  let byte = -1;
  if (f !== null) {
    byte = f.metaType.untyped ? f.bytes()[0] : -1;
    f.drop();
  }
  ch.close();
  parentPort.postMessage({ paddr: f === null ? null : f.paddr, byte, pongsWhileWaiting: pongs - before, elapsed });
}

parentPort.on('message', (msg) => {
  /** @param {unknown} e */
  const fail = (e) => parentPort.postMessage({ error: String(e instanceof Error ? (e.stack ?? e) : e) });
  try {
    switch (msg.cmd) {
      case 'id':
        parentPort.postMessage({ workerId: sys.workerId });
        break;
      case 'pingpong':
        pingPong(msg);
        break;
      case 'churn':
        churn(msg).catch(fail);
        break;
      case 'recv':
        recv(msg);
        break;
      case 'send':
        send(msg);
        break;
      case 'recvMany':
        recvMany(msg);
        break;
      case 'recvAsync':
        recvAsync(msg).catch(fail);
        break;
      case 'dieInSend':
        dieInSend(msg);
        break;
      case 'dieInReceive':
        dieInReceive(msg);
        break;
      case 'trySendOne':
        trySendOne(msg);
        break;
      case 'ping':
        pongs++;
        parentPort.postMessage({ pong: msg.k });
        break;
      case 'close':
        sys.close();
        parentPort.postMessage({ closed: true });
        break;
      default:
        parentPort.postMessage({ error: `unknown command ${String(msg.cmd)}` });
    }
  } catch (e) {
    fail(e);
  }
});
