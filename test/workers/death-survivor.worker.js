// A worker for test/death.test.ts that outlives the one that dies: it runs the channel operation
// the test asks for (a receive, a send, a receiveAsync, each with the test's timeout) and
// answers what it got and how long it took; it reclaims a dead worker on its own thread when
// asked, and answers pings while a receiveAsync is pending (its event loop is not blocked).
import { parentPort as port, workerData } from 'node:worker_threads';
import { Frame, FrameChannel, FrameSystem } from '../../dist/index.js';

if (port === null) throw new Error('death-survivor.worker.js runs as a worker thread');
const parentPort = port;
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);

/**
 * What a receive got: the frame's (or segment's) address, frame count, first byte and the
 * reference count of its first frame (then it is dropped), or nulls on timeout.
 * @param {import('../../dist/index.js').Segment | null} seg @param {number} elapsed
 */
function answer(seg, elapsed) {
  if (seg === null) return { paddr: null, nframes: 0, byte: -1, count: -1, elapsed };
  const probe = Frame.fromInUse(sys, seg.startPaddr); // one more reference, for a look at the count
  const count = probe.referenceCount - 1;
  probe.drop();
  const got = { paddr: seg.startPaddr, nframes: seg.nframes, byte: seg.bytes()[0], count, elapsed };
  seg.drop();
  return got;
}

/** @type {Record<string, (msg: any) => void | Promise<void>>} */
const commands = {
  receive(msg) {
    const ch = FrameChannel.open(sys, msg.ch);
    parentPort.postMessage({ waiting: true });
    const t0 = performance.now();
    try {
      parentPort.postMessage(answer(ch.receiveSegment(undefined, msg.timeout), performance.now() - t0));
    } finally {
      ch.close();
    }
  },

  send(msg) {
    const ch = FrameChannel.open(sys, msg.ch);
    const f = sys.allocFrame();
    f.bytes()[0] = msg.tag;
    const paddr = f.paddr;
    parentPort.postMessage({ waiting: true, paddr });
    const t0 = performance.now();
    try {
      const sent = ch.send(f, msg.timeout);
      if (!sent) f.drop();
      parentPort.postMessage({ sent, paddr, elapsed: performance.now() - t0 });
    } finally {
      ch.close();
    }
  },

  async receiveAsync(msg) {
    const ch = FrameChannel.open(sys, msg.ch);
    const t0 = performance.now();
    const pending = ch.receiveSegmentAsync(undefined, msg.timeout);
    parentPort.postMessage({ waiting: true });
    try {
      const seg = await pending;
      parentPort.postMessage(answer(seg, performance.now() - t0));
    } finally {
      ch.close();
    }
  },

  reclaim(msg) {
    const report = sys.reclaimWorker(msg.id);
    parentPort.postMessage({ reclaimed: report });
  },

  ping(msg) {
    parentPort.postMessage({ pong: msg.k });
  },

  close() {
    sys.close();
    parentPort.postMessage({ closed: true });
  },
};

/** @param {unknown} e */
const fail = (e) => parentPort.postMessage({ error: String(e instanceof Error ? (e.stack ?? e) : e) });

parentPort.on('message', (msg) => {
  try {
    const run = commands[msg.cmd];
    if (run === undefined) throw new Error(`unknown command ${String(msg.cmd)}`);
    const done = run(msg);
    if (done instanceof Promise) done.catch(fail);
  } catch (e) {
    fail(e);
  }
});
parentPort.postMessage({ workerId: sys.workerId });
