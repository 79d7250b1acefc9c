/**
 * The fast path of the commonest operations, one frame through this worker's cache, as a
 * WebAssembly module on the region's shared `WebAssembly.Memory` (default allocator with
 * caches): `take` pops a frame from the 1-frame cache, journals it and claims its slot; `publish`
 * publishes it and ends the journal entry (`takePublished` does both in one call when there is
 * nothing to write in between); `drop` drops a shared reference and, for the last one of a type
 * with no `onDrop` anywhere, tears the slot down and pushes the frame back on the cache. In
 * checked mode a variant leaves to JavaScript what the contracts must see (see `fastPath`). Each is the same sequence of steps, in the same order, as the JavaScript
 * functions it stands for (`popOne` of workers.ts, `claim`, `writeMeta`, `publish`, `dropRef`,
 * `tearDownPlain`, `pushOne` of workers.ts; for a segment's frames `claimRange`, `publishRange`
 * and `dropRange`; the buddy allocator's per-frame marks `markTaken` and `markFree` of
 * free-lists.ts), which
 * remain the path on a plain `SharedArrayBuffer` and for everything the fast path hands back (a
 * status says what is left).
 * In JavaScript every `Atomics` call and shared-memory access costs a builtin call or a bounds
 * check; here the whole sequence is one call.
 */
import { AUX_FREE, DROP_DEALLOC, DROP_DONE, DROP_LAST_SLOW, DROP_NOT_HELD, RC_UNUSED, RUN_KEPT, SLOT_SHIFT, SLOT_WORDS, S_AUX, S_LIST, S_NEXT, S_OWNER, S_STORAGE, S_TYPE } from './meta.js';
import { H_REGISTRY, TYPE_ENTRY_BYTES, TYPE_ENTRY_WORDS } from './geometry.js';
import { OP_DROP, OP_KIND_SHIFT, OP_OWNED, W_OP_COUNT, W_OP_START } from './journal.js';
import { TYPE_FLAG_ON_DROP, T_FLAGS } from './registry.js';
import { CACHE_BASE, GIVEN, GIVE_REFUSED, GIVE_STACK_FULL, W_CACHE } from './workers.js';
import { MAX_TYPES, REF_COUNT_MAX } from '../base/limits.js';
import type { FastPath, Region } from './region.js';
import { AtomicOp, Op, assemble, compile, constI32, instantiate, word, type WasmFunc } from '../shm/wasm.js';



// Globals, by index: the region's base, this worker's record, its 1-frame stack, slot 0 (all
// byte addresses in the memory), the worker id, the stack's capacity, the address such that
// type `id`'s flags are at `types + id * TYPE_ENTRY_BYTES`, and the count word of a frame on this
// worker's 1-frame stack (meta.ts `cachedHead(worker, 1)`).
const GLOBALS = ['b', 'rec', 'stack', 'meta', 'worker', 'cap', 'types', 'cached'] as const;
const g = (name: (typeof GLOBALS)[number]): number[] => [Op.globalGet, GLOBALS.indexOf(name)];
const get = (local: number): number[] => [Op.localGet, local];
const set = (local: number): number[] => [Op.localSet, local];
const load = (addr: number[], offset = 0): number[] => [...addr, Op.i32Load, ...word(offset)];
const store = (addr: number[], value: number[], offset = 0): number[] => [...addr, ...value, Op.i32Store, ...word(offset)];
const returnIf = (cond: number[], value: number): number[] => [...cond, Op.if, Op.void, ...constI32(value), Op.return, Op.end];
/** The byte address of the slot of frame index `local`. */
const slotOf = (local: number): number[] => [...get(local), ...constI32(SLOT_SHIFT + 2), Op.i32Shl, ...g('meta'), Op.i32Add];
const journal = (kind: number, index: number[]): number[] => [
  // ORDER: the count word before the start that makes the entry valid (as `writeOp`).
  ...store(g('rec'), constI32((kind << OP_KIND_SHIFT) | 1), W_OP_COUNT * 4),
  ...store(g('rec'), [...index, ...constI32(1), Op.i32Add], W_OP_START * 4),
];
const endJournal = [...store(g('rec'), constI32(0), W_OP_START * 4), ...store(g('rec'), constI32(0), W_OP_COUNT * 4)];
/**
 * `decRef`: a CAS loop that leaves the count before the decrement in local `old`; a count that
 * says the frame is not held runs `notHeld` (which returns); only the holder of the last
 * reference names itself as the owner, before the CAS that makes the slot busy.
 */
const decRef = (slot: number, old: number, notHeld: number[]): number[] => [
  Op.block, Op.void, Op.loop, Op.void,
  ...get(slot), Op.atomic, AtomicOp.load, ...word(), ...set(old),
  ...get(old), ...constI32(1), Op.i32LtS, Op.if, Op.void, ...notHeld, Op.end,
  ...get(old), ...constI32(REF_COUNT_MAX), Op.i32GtS, Op.if, Op.void, ...notHeld, Op.end,
  ...get(old), ...constI32(1), Op.i32Eq, Op.if, Op.void, ...store(get(slot), g('worker'), S_OWNER * 4), Op.end,
  ...get(slot), ...get(old), ...get(old), ...constI32(1), Op.i32Sub, Op.atomic, AtomicOp.cmpxchg, ...word(), ...get(old), Op.i32Eq,
  Op.brIf, 1,
  Op.br, 0,
  Op.end, Op.end,
];

/** Nonzero unless the slot at address `slot` is clean: in no list, no type, zero metadata (`slotIsClean`). */
const dirty = (slot: number): number[] => [
  ...load(get(slot), S_LIST * 4), ...load(get(slot), S_TYPE * 4), Op.i32Or,
  ...Array.from({ length: SLOT_WORDS - S_STORAGE }, (_, k) => [...load(get(slot), (S_STORAGE + k) * 4), Op.i32Or]).flat(),
];

/**
 * `popOne`'s steps of workers.ts: entries whose frame was stolen are skipped; the head's count
 * checked, the journal, then the CAS from the cached head to `to` (0, busy: the claim; or UNUSED:
 * a raw frame). Returns -1 itself if the stack holds none. With `clean` (checked mode's claim), a
 * head whose slot is not clean is left on the stack and -1 returned, as `popRun` does. Locals:
 * the stack count, the index, the slot address.
 */
const popSteps = (count: number, index: number, slot: number, to: number, clean = false): number[] => [
  ...load(g('stack')), ...set(count),
  Op.block, Op.void, Op.loop, Op.void,
  ...get(count), ...constI32(0), Op.i32LeS, Op.if, Op.void, ...store(g('stack'), constI32(0)), ...constI32(-1), Op.return, Op.end,
  ...load([...get(count), ...constI32(2), Op.i32Shl, ...g('stack'), Op.i32Add]), ...set(index),
  ...get(count), ...constI32(1), Op.i32Sub, ...set(count),
  ...slotOf(index), ...set(slot),
  ...get(slot), Op.atomic, AtomicOp.load, ...word(), ...g('cached'), Op.i32Ne, Op.brIf, 0, // stolen since
  ...(clean ? [...dirty(slot), Op.if, Op.void, ...store(g('stack'), [...get(count), ...constI32(1), Op.i32Add]), ...constI32(-1), Op.return, Op.end] : []),
  ...journal(OP_OWNED, get(index)), // journaled before the CAS that takes it
  ...get(slot), ...g('cached'), ...constI32(to), Op.atomic, AtomicOp.cmpxchg, ...word(), ...g('cached'), Op.i32Ne, Op.brIf, 0,
  Op.br, 1,
  Op.end, Op.end,
  ...store(g('stack'), get(count)),
];
/** `take`'s steps: `popSteps` to busy (the claim), then the type word of parameter 0. */
const takeSteps = (count: number, index: number, slot: number, checked: boolean): number[] => [
  ...popSteps(count, index, slot, 0, checked),
  ...store(get(slot), get(0), S_TYPE * 4), // writeMeta (the type; the caller writes initial values)
];
/** publish: the count (an atomic store after the metadata), then the journal ends. */
const publishSteps = (slot: number[], value: number[]): number[] => [...slot, ...value, Op.atomic, AtomicOp.store, ...word(), ...endJournal];

// take(typeId): locals 1 count, 2 index, 3 slot address.
const take = (checked: boolean): WasmFunc => ({ name: 'take', params: 1, results: 1, locals: 3, body: [...takeSteps(1, 2, 3, checked), ...get(2)] });

// publish(index, value)
const publish: WasmFunc = { name: 'publish', params: 2, results: 0, body: publishSteps(slotOf(0), get(1)) };

// takePublished(typeId, value): take and publish in one call, for a frame with nothing to write
// in between (no initial values, not zeroed). Locals: 2 count, 3 index, 4 slot address.
const takePublished = (checked: boolean): WasmFunc => ({
  name: 'takePublished',
  params: 2,
  results: 1,
  locals: 3,
  body: [...takeSteps(2, 3, 4, checked), ...publishSteps(get(4), get(1)), ...get(3)],
});

// popRaw(): `popOne(r, RC_UNUSED)`: a raw frame from the 1-frame cache, left journaled; -1 if
// none. Locals: 0 count, 1 index, 2 slot address.
const popRaw: WasmFunc = { name: 'popRaw', params: 0, results: 1, locals: 3, body: [...popSteps(0, 1, 2, RC_UNUSED), ...get(1)] };

// giveRaw(index): `giveBackOne` of workers.ts: GIVE_REFUSED if the frame is not UNUSED or is
// marked free; else the owner, then as `pushOne`: GIVE_STACK_FULL, or the entry, the cached head
// (an atomic store), the count: GIVEN. Locals: 1 slot address, 2 stack count.
const giveRaw: WasmFunc = {
  name: 'giveRaw',
  params: 1,
  results: 1,
  locals: 2,
  body: [
    ...slotOf(0), ...set(1),
    ...returnIf([...load(get(1)), ...constI32(RC_UNUSED), Op.i32Ne], GIVE_REFUSED),
    ...returnIf([...load(get(1), S_AUX * 4), ...constI32(AUX_FREE), Op.i32And], GIVE_REFUSED),
    ...store(get(1), g('worker'), S_OWNER * 4),
    ...load(g('stack')), ...set(2),
    ...returnIf([...get(2), ...g('cap'), Op.i32GeS], GIVE_STACK_FULL),
    ...store([...get(2), ...constI32(1), Op.i32Add, ...constI32(2), Op.i32Shl, ...g('stack'), Op.i32Add], get(0)),
    ...get(1), ...g('cached'), Op.atomic, AtomicOp.store, ...word(),
    ...store(g('stack'), [...get(2), ...constI32(1), Op.i32Add]),
    ...constI32(GIVEN),
  ],
};

// drop(w): locals 1 slot address, 2 old count, 3 index, 4 type id, 5 stack count. Checked, a
// last reference leaves the slot to JavaScript (DROP_LAST_SLOW) unless it is busy and in no
// list (`drop_last_in_place_requires`, which JavaScript then reports).
const clearWords = [S_TYPE, S_LIST, S_AUX];
for (let k = S_STORAGE; k < SLOT_WORDS; k++) clearWords.unshift(k);
const drop = (checked: boolean): WasmFunc => ({
  name: 'drop',
  params: 1,
  results: 1,
  locals: 5,
  body: [
    ...get(0), ...constI32(2), Op.i32Shl, ...g('b'), Op.i32Add, ...set(1),
    ...get(1), ...g('meta'), Op.i32Sub, ...constI32(SLOT_SHIFT + 2), Op.i32ShrS, ...set(3),
    ...journal(OP_DROP, get(3)),
    ...decRef(1, 2, [...constI32(DROP_NOT_HELD), Op.return]),
    ...get(2), ...constI32(1), Op.i32GtS, Op.if, Op.void, ...endJournal, ...constI32(DROP_DONE), Op.return, Op.end,
    ...(checked ? returnIf([...get(1), Op.atomic, AtomicOp.load, ...word(), ...load(get(1), S_LIST * 4), Op.i32Or], DROP_LAST_SLOW) : []),
    // The last reference: tearDownPlain, if the type has no onDrop in any worker.
    ...load(get(1), S_TYPE * 4), ...set(4),
    ...returnIf([...get(4), ...constI32(0), Op.i32LeS], DROP_LAST_SLOW),
    ...returnIf([...get(4), ...constI32(MAX_TYPES), Op.i32GtS], DROP_LAST_SLOW),
    ...returnIf([...load([...get(4), ...constI32(TYPE_ENTRY_BYTES), Op.i32Mul, ...g('types'), Op.i32Add]), ...constI32(TYPE_FLAG_ON_DROP), Op.i32And], DROP_LAST_SLOW),
    ...store(get(1), g('worker'), S_OWNER * 4),
    ...clearWords.flatMap((k) => store(get(1), constI32(0), k * 4)),
    // pushOne: full, the slot becomes UNUSED (a plain store, as clearSlot's) for the caller to
    // deallocate; else the entry, then the cached head (an atomic store: from here on another
    // worker may take it), then the stack's count.
    ...load(g('stack')), ...set(5),
    ...get(5), ...g('cap'), Op.i32GeS, Op.if, Op.void, ...store(get(1), constI32(RC_UNUSED)), ...constI32(DROP_DEALLOC), Op.return, Op.end,
    ...store([...get(5), ...constI32(1), Op.i32Add, ...constI32(2), Op.i32Shl, ...g('stack'), Op.i32Add], get(3)),
    ...get(1), ...g('cached'), Op.atomic, AtomicOp.store, ...word(),
    ...store(g('stack'), [...get(5), ...constI32(1), Op.i32Add]),
    ...endJournal,
    ...constI32(DROP_DONE),
  ],
});

// The same for runs of frames (a segment's), one slot after the other. `w` and `n`: the first
// slot's word index and the number of frames.
const SLOT_BYTES = SLOT_WORDS * 4;
const firstSlot = [...get(0), ...constI32(2), Op.i32Shl, ...g('b'), Op.i32Add];
const next = (slot: number, k: number): number[] => [
  ...get(slot), ...constI32(SLOT_BYTES), Op.i32Add, ...set(slot),
  ...get(k), ...constI32(1), Op.i32Add, ...set(k),
];
/** `block { loop { br_if (k >= n) out; body; br loop } }` */
const forEach = (k: number, body: number[]): number[] => [
  Op.block, Op.void, Op.loop, Op.void,
  ...get(k), ...get(1), Op.i32GeS, Op.brIf, 1,
  ...body,
  Op.br, 0, Op.end, Op.end,
];

// claimRun(w, n, typeId): claims n slots (CAS UNUSED -> 0, owner, type) as `claimRange` does;
// on a slot that is not UNUSED, unclaims the ones before it and answers its position, else n.
// Locals: 3 k, 4 slot address, 5 the rollback's slot address.
const claimRun: WasmFunc = {
  name: 'claimRun',
  params: 3,
  results: 1,
  locals: 3,
  body: [
    ...firstSlot, ...set(4),
    ...forEach(3, [
      ...get(4), ...constI32(RC_UNUSED), ...constI32(0), Op.atomic, AtomicOp.cmpxchg, ...word(), ...constI32(RC_UNUSED), Op.i32Ne,
      Op.if, Op.void,
      ...firstSlot, ...set(5),
      Op.block, Op.void, Op.loop, Op.void,
      ...get(5), ...get(4), Op.i32GeU, Op.brIf, 1,
      ...store(get(5), constI32(0), S_TYPE * 4),
      ...get(5), ...constI32(RC_UNUSED), Op.atomic, AtomicOp.store, ...word(),
      ...get(5), ...constI32(SLOT_BYTES), Op.i32Add, ...set(5),
      Op.br, 0, Op.end, Op.end,
      ...get(3), Op.return,
      Op.end,
      ...store(get(4), g('worker'), S_OWNER * 4),
      ...store(get(4), get(2), S_TYPE * 4),
      ...next(4, 3),
    ]),
    ...get(1),
  ],
};

// publishRun(w, n, value): publishes n claimed slots, as `publishRange`. Locals: 3 k, 4 slot.
const publishRun: WasmFunc = {
  name: 'publishRun',
  params: 3,
  results: 0,
  locals: 2,
  body: [
    ...firstSlot, ...set(4),
    ...forEach(3, [...get(4), ...get(2), Op.atomic, AtomicOp.store, ...word(), ...next(4, 3)]),
  ],
};

// dropRun(w, n): drops one reference to each of n frames, tearing down (as `tearDownPlain`) those
// whose last reference it was, while their type has no onDrop (checked: none, so that the
// contracts run, as the JavaScript `dropRun`); stops after the first frame that is otherwise. Answers (k << 2) | code: k frames torn down, then code DROP_DONE (k = n), or
// for frame k: RUN_KEPT (references remain), DROP_LAST_SLOW, DROP_NOT_HELD (unchanged).
// Locals: 2 slot, 3 k, 4 old count, 5 type id.
const answer = (code: number): number[] => [...get(3), ...constI32(2), Op.i32Shl, ...constI32(code), Op.i32Or, Op.return];
const dropRun = (checked: boolean): WasmFunc => ({
  name: 'dropRun',
  params: 2,
  results: 1,
  locals: 4,
  body: [
    ...firstSlot, ...set(2),
    ...forEach(3, [
      ...decRef(2, 4, answer(DROP_NOT_HELD)),
      ...get(4), ...constI32(1), Op.i32GtS, Op.if, Op.void, ...answer(RUN_KEPT), Op.end,
      ...(checked ? answer(DROP_LAST_SLOW) : []),
      ...load(get(2), S_TYPE * 4), ...set(5),
      ...get(5), ...constI32(0), Op.i32LeS, Op.if, Op.void, ...answer(DROP_LAST_SLOW), Op.end,
      ...get(5), ...constI32(MAX_TYPES), Op.i32GtS, Op.if, Op.void, ...answer(DROP_LAST_SLOW), Op.end,
      ...load([...get(5), ...constI32(TYPE_ENTRY_BYTES), Op.i32Mul, ...g('types'), Op.i32Add]), ...constI32(TYPE_FLAG_ON_DROP), Op.i32And,
      Op.if, Op.void, ...answer(DROP_LAST_SLOW), Op.end,
      ...store(get(2), g('worker'), S_OWNER * 4),
      ...clearWords.flatMap((k) => store(get(2), constI32(0), k * 4)),
      ...store(get(2), constI32(RC_UNUSED)),
      ...next(2, 3),
    ]),
    ...get(3), ...constI32(2), Op.i32Shl, // DROP_DONE
  ],
});

// markTaken(w, n): free-lists.ts `markTaken` (owner, unlinked, not free). Locals: 2 k, 3 slot.
const markTaken: WasmFunc = {
  name: 'markTaken',
  params: 2,
  results: 0,
  locals: 2,
  body: [
    ...firstSlot, ...set(3),
    ...forEach(2, [
      ...store(get(3), g('worker'), S_OWNER * 4), // S_PREV: the owner first
      ...store(get(3), constI32(0), S_NEXT * 4),
      ...store(get(3), constI32(0), S_AUX * 4),
      ...next(3, 2),
    ]),
  ],
};

// markFree(w, n): free-lists.ts `markFree` (AUX_FREE). Locals: 2 k, 3 slot.
const markFree: WasmFunc = {
  name: 'markFree',
  params: 2,
  results: 0,
  locals: 2,
  body: [...firstSlot, ...set(3), ...forEach(2, [...store(get(3), constI32(AUX_FREE), S_AUX * 4), ...next(3, 2)])],
};

/** The module, unchecked and checked (compiled on first use; null where there is no WebAssembly). */
const compiled: (WebAssembly.Module | null | undefined)[] = [undefined, undefined];

/**
 * The fast path of this worker's view `r` of a region, for a 1-frame cache stack of `capacity`
 * entries; undefined where the memory is not a shared WebAssembly.Memory (or WebAssembly threads
 * are unavailable). In a checked region its `take`, `takePublished`, `drop` and `dropRun` leave
 * to JavaScript what checked mode's contracts must see: a claim of a slot that is not clean, a
 * last drop of one that is not busy or is in a list, every last drop of a run.
 */
export function fastPath(r: Region, capacity: number): FastPath | undefined {
  if (r.at.kind !== 'wasm') return undefined; // the runtime's probes chose JS (shm/probe.ts): so does the fast path
  const c = r.checked ? 1 : 0;
  const module = (compiled[c] ??= compile(assemble(GLOBALS, [take(r.checked), publish, takePublished(r.checked), popRaw, giveRaw, drop(r.checked), claimRun, publishRun, dropRun(r.checked), markTaken, markFree])));
  const bytes = (w: number): number => r.offset + w * 4;
  const ex = instantiate(module, r.memory, {
    b: r.offset,
    rec: bytes(r.rec),
    stack: bytes(r.rec + W_CACHE + CACHE_BASE[1]),
    meta: bytes(r.metaWord),
    worker: r.workerId,
    cap: capacity,
    types: bytes(H_REGISTRY - TYPE_ENTRY_WORDS + T_FLAGS),
    cached: r.cachedOne,
  }) as unknown as FastPath | null;
  if (ex === null) return undefined;
  return {
    take: ex.take,
    publish: ex.publish,
    takePublished: ex.takePublished,
    popRaw: ex.popRaw,
    giveRaw: ex.giveRaw,
    drop: ex.drop,
    claimRun: ex.claimRun,
    publishRun: ex.publishRun,
    dropRun: ex.dropRun,
    markTaken: ex.markTaken,
    markFree: ex.markFree,
  };
}
