// A worker that attaches to a region and runs the commands the test sends it.
import { parentPort as port, workerData } from 'node:worker_threads';
import { Frame, FrameSystem, defineMeta } from '../../dist/index.js';

if (port === null) throw new Error('peer.worker.js runs as a worker thread');
const parentPort = port;
const sys = FrameSystem.attach(workerData.handle);
/** @type {{ tag: number, first: number, worker: number }[]} */
const dropped = [];
const Tagged = defineMeta('test.workers.tagged', { tag: 'u32' }, {
  untyped: true,
  onDrop: (meta, frame) => dropped.push({ tag: meta.tag, first: frame.bytes()[0], worker: sys.workerId }),
});

parentPort.on('message', (msg) => {
  try {
    switch (msg.cmd) {
      case 'id':
        parentPort.postMessage({ workerId: sys.workerId });
        break;
      case 'take': {
        // Take over a reference handed over by address, read the bytes, answer with their sum.
        const f = Frame.fromRaw(sys, msg.paddr);
        const bytes = f.bytes();
        let sum = 0;
        for (let i = 0; i < bytes.length; i++) sum += bytes[i];
        bytes[0] = 0x77; // written in place: the sender sees it
        f.drop();
        parentPort.postMessage({ sum });
        break;
      }
      case 'allocTagged': {
        const f = sys.allocFrame(Tagged, { tag: msg.tag });
        f.bytes()[0] = msg.tag & 0xff;
        parentPort.postMessage({ paddr: f.intoRaw() });
        break;
      }
      case 'drain':
        parentPort.postMessage({ drained: sys.drainDeferred(), dropped });
        break;
      case 'close':
        sys.close();
        parentPort.postMessage({ closed: true });
        break;
    }
  } catch (e) {
    parentPort.postMessage({ error: String(e) });
  }
});
