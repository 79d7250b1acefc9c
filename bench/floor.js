// The floor of a segment's alloc+drop: the sequentially consistent atomics it cannot avoid, one
// claim (compare-exchange UNUSED -> busy), one publish (atomic store of the count) and one drop
// (compare-exchange of the count) per frame, each on its own 64-byte slot, in a WebAssembly loop
// with nothing else around them: the cost of the reference-counting protocol itself on this CPU.
import { META_SLOT_SIZE as SLOT_BYTES } from '../dist/index.js';
import { AtomicOp, Op, assemble, compile, constI32, instantiate, word } from '../dist/shm/wasm.js';

const get = (/** @type {number} */ local) => [Op.localGet, local];
const set = (/** @type {number} */ local) => [Op.localSet, local];

// atomicsFloor(address, n): for each of n slots from `address`: CAS -1 -> 0, store 1, CAS 1 -> 0,
// then the plain store of -1 with which a teardown leaves the slot UNUSED.
const body = [
  Op.block, Op.void, Op.loop, Op.void,
  ...get(1), Op.i32Eqz, Op.brIf, 1,
  ...get(0), ...constI32(-1), ...constI32(0), Op.atomic, AtomicOp.cmpxchg, ...word(), Op.drop,
  ...get(0), ...constI32(1), Op.atomic, AtomicOp.store, ...word(),
  ...get(0), ...constI32(1), ...constI32(0), Op.atomic, AtomicOp.cmpxchg, ...word(), Op.drop,
  ...get(0), ...constI32(-1), Op.i32Store, ...word(),
  ...get(0), ...constI32(SLOT_BYTES), Op.i32Add, ...set(0),
  ...get(1), ...constI32(1), Op.i32Sub, ...set(1),
  Op.br, 0, Op.end, Op.end,
];

/**
 * A function that runs the three atomics on each of `nframes` slots of a shared memory of its own.
 * @param {number} nframes
 * @returns {() => void}
 */
export function atomicsFloor(nframes) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((nframes * SLOT_BYTES) / 65536), maximum: 65536, shared: true });
  new Int32Array(memory.buffer).fill(-1);
  const ex = instantiate(compile(assemble([], [{ name: 'atomicsFloor', params: 2, results: 0, body }])), memory, {});
  if (ex === null) throw new Error('WebAssembly threads are not available');
  const run = /** @type {(address: number, n: number) => void} */ (ex.atomicsFloor);
  return () => run(0, nframes);
}

// folioFloor(address, n): what one count for a whole run of n slots (Linux's folios) would
// leave: the three atomics on the first slot only, and one plain store on each of the n - 1
// others at the allocation (a tail's pointer to its head) and one at the free (cleared).
const folioBody = [
  ...get(0), ...constI32(-1), ...constI32(0), Op.atomic, AtomicOp.cmpxchg, ...word(), Op.drop,
  ...get(0), ...constI32(1), Op.atomic, AtomicOp.store, ...word(),
  ...get(0), ...set(2),
  Op.block, Op.void, Op.loop, Op.void,
  ...get(1), ...constI32(1), Op.i32LeS, Op.brIf, 1,
  ...get(2), ...constI32(SLOT_BYTES), Op.i32Add, ...set(2),
  ...get(2), ...get(0), Op.i32Store, ...word(),
  ...get(1), ...constI32(1), Op.i32Sub, ...set(1),
  Op.br, 0, Op.end, Op.end,
  ...get(0), ...constI32(1), ...constI32(0), Op.atomic, AtomicOp.cmpxchg, ...word(), Op.drop,
  ...get(0), ...constI32(-1), Op.i32Store, ...word(),
  Op.block, Op.void, Op.loop, Op.void,
  ...get(0), ...get(2), Op.i32GeU, Op.brIf, 1,
  ...get(2), ...constI32(0), Op.i32Store, ...word(),
  ...get(2), ...constI32(SLOT_BYTES), Op.i32Sub, ...set(2),
  Op.br, 0, Op.end, Op.end,
];

/**
 * A function that does a folio-style alloc+drop of `nframes` slots (see `folioFloor` above) in a
 * shared memory of its own: the floor of a segment with one reference count.
 * @param {number} nframes
 * @returns {() => void}
 */
export function folioFloor(nframes) {
  const memory = new WebAssembly.Memory({ initial: Math.ceil((nframes * SLOT_BYTES) / 65536), maximum: 65536, shared: true });
  new Int32Array(memory.buffer).fill(-1);
  const ex = instantiate(compile(assemble([], [{ name: 'folioFloor', params: 2, results: 0, locals: 1, body: folioBody }])), memory, {});
  if (ex === null) throw new Error('WebAssembly threads are not available');
  const run = /** @type {(address: number, n: number) => void} */ (ex.folioFloor);
  return () => run(0, nframes);
}
