// The demo's baseline consumer: the same work as demo-worker.js (verify each block's checksum),
// but the blocks come by postMessage, as ArrayBuffers copied or transferred, and it sends
// credits back so that the producer keeps no more blocks in flight than the FrameChannel holds.
import { parentPort as port, workerData } from 'node:worker_threads';
import { STOP, checksum } from './demo-shared.js';

if (port === null) throw new Error('demo-pm-worker.js runs as a worker thread');
const p = port;
/** Credits go back in batches (small enough that the producer's window never waits for a batch). */
const CREDIT_BATCH = /** @type {{ creditBatch: number }} */ (workerData).creditBatch;
let done = 0;
let bad = 0;
let owed = 0;
p.on('message', (/** @type {{ seq: number, sum: number, buffer: ArrayBuffer }} */ m) => {
  if (m.seq === STOP) {
    p.postMessage({ done, bad }); // the producer then terminates this worker
    return;
  }
  if (checksum(new Uint8Array(m.buffer)) !== m.sum) bad++;
  done++;
  if (++owed === CREDIT_BATCH) {
    p.postMessage({ credits: owed });
    owed = 0;
  }
});
