// A worker that churns single frames with at most `limit` held at a time, `iterations` times,
// counting every NoMemory (which must not happen while the workers together hold fewer frames
// than the region has: the free ones are somewhere, cached by a worker or at the buddy level, and
// an allocation takes them from wherever they are). At the end it drops all it holds, leaves its
// cache as it is (the others take from it), posts its counts and waits for 'close'.
import { parentPort as port, workerData } from 'node:worker_threads';
import { AllocError, FrameSystem } from '../../dist/index.js';
import { xorshift } from './xorshift.js';

if (port === null) throw new Error('steal-churn.worker.js runs as a worker thread');
const out = port;
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle, limit: number, iterations: number, seed: number }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
const next = xorshift(data.seed);
/** @type {import('../../dist/index.js').Frame[]} */
const held = [];
let noMemory = 0;
let allocs = 0;
for (let i = 0; i < data.iterations; i++) {
  if (held.length < data.limit && (held.length === 0 || next() % 2 === 0)) {
    try {
      held.push(sys.allocFrame());
      allocs++;
    } catch (e) {
      if (!(e instanceof AllocError)) throw e;
      noMemory++;
    }
  } else {
    const k = next() % held.length;
    held[k].drop();
    held[k] = held[held.length - 1];
    held.pop();
  }
}
for (const f of held) f.drop();
out.postMessage({ noMemory, allocs });
out.on('message', (m) => {
  if (m === 'close') {
    sys.close();
    out.postMessage('closed');
  }
});
