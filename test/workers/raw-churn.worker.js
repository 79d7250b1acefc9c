// A worker that keeps up to 64 unique frames raw (their paddr + 1 in its row of a shared table)
// and churns them: an empty entry gets `allocUnique(...).intoRaw()`, a full one goes back with
// `UniqueFrame.fromRaw(...).drop()`. `counter[slot]` counts the steps. With `stoppable` it stops
// once `counter[2]` is set, gives back what it holds, closes and posts 'done'; without, it runs
// until it is terminated (its table row then says which frames it held, for the test to take back).
import { parentPort as port, workerData } from 'node:worker_threads';
import { FrameAllocOptions, FrameSystem, UniqueFrame, defineMeta } from '../../dist/index.js';
import { xorshift } from './xorshift.js';

if (port === null) throw new Error('raw-churn.worker.js runs as a worker thread');
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle, table: SharedArrayBuffer, counter: SharedArrayBuffer, slot: number, stoppable: boolean, seed: number }} */
const data = workerData;
const M = defineMeta('test.raw-churn', { a: 'u32' });
const sys = FrameSystem.attach(data.handle);
const options = new FrameAllocOptions(sys).zeroed(false);
const counter = new Int32Array(data.counter);
const table = new Float64Array(data.table, data.slot * 64 * 8, 64);
port.postMessage({ workerId: sys.workerId });

const next = xorshift(data.seed);
for (let k = 0; !(data.stoppable && Atomics.load(counter, 2) !== 0); k++) {
  const i = next() % 64;
  if (table[i] === 0) {
    table[i] = options.allocUnique(M, { a: k }).intoRaw() + 1;
  } else {
    const paddr = table[i] - 1;
    table[i] = 0;
    UniqueFrame.fromRaw(sys, paddr, M).drop();
  }
  Atomics.add(counter, data.slot, 1);
}
for (let i = 0; i < 64; i++) {
  if (table[i] !== 0) UniqueFrame.fromRaw(sys, table[i] - 1, M).drop();
  table[i] = 0;
}
sys.close();
port.postMessage('done');
