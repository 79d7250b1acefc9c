// @ts-check
/**
 * `npm run verify`: model-checks the Promela models of verify/ exhaustively with SPIN.
 *
 * For each run below: the model is preprocessed with its `#define`s (cc -E, comments kept, so
 * that a counterexample shows the TypeScript function each step models), `spin -a` writes the
 * verifier, `cc` compiles it, and pan searches the whole state space. A run expected to pass
 * must end with 0 errors and a complete search; a broken variant (a negative test, among them
 * the code as it was before the fixes of findings F1-F3) must end with an error whose text
 * matches the property it breaks. The table goes to
 * stdout and the figures to verify/results.json. Exits 1 on any unexpected result, 2 if spin or
 * a C compiler is missing. Everything is built in a temporary directory.
 *
 * Options: --only TEXT (runs whose name contains TEXT), --jobs N (parallel runs; default 2, or
 * VERIFY_JOBS), --trails (print every counterexample, expected ones too), --keep (keep the
 * build directory), --no-write (do not write results.json).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {object} Run
 * @property {string} name         unique name, `model/variant/wN`
 * @property {string} model        the .pml file in verify/
 * @property {number} workers      NW
 * @property {string[]} defines    other -D flags (without -D)
 * @property {'pass' | 'fail'} expect
 * @property {string} what         what the run checks (for the table)
 * @property {RegExp} [property]   for expect 'fail': the error pan must report
 * @property {boolean} [big]       compile with -O2 -DCOLLAPSE and a larger hash table
 * @property {string[]} [pan]      extra pan flags
 */

/** Properties, as pan prints their violation. */
const P = {
  conservation: /refs\[f\]/, // FRAME_OK: the count equals the references held
  metadata: /t==pub\[f\]/, // a holder reads the published metadata
  noDoubleFree: /!\(freeG\[f\]\)/, // give / reclaim: the frame is not free already
  frameLost: /lostR\[f\]/, // final: every frame free, or held by the dead worker's handles
  allocOwner: /gl\[fx\]==\(8\+/, // cache: a frame freed only by the worker that owns it
  cacheLost: /gl\[f\]==100/, // cache final: every frame in exactly one place
  popTwice: /\(gl\[f\]==me\)/, // cache: the owner's pop takes a frame its cache still holds
  stealTwice: /\(gl\[sf\]==vi\)/, // cache: a steal takes a frame the victim's cache still holds
  noMemory: /touch\[fx\]/, // cache: NoMemory only if no frame was free all along since the steal began
  deadlock: /invalid end state/,
  recvWakeup: /waitOn\[q\]==\(6\+1\).*\|\|diedOwing\)/, // a receiver asleep on C_SENT, the queue not empty, nobody died owing a notify
  sendWakeup: /waitOn\[q\]==\(7\+1\).*\|\|diedOwing\)/, // a sender asleep on C_RECEIVED with room, nobody died owing a notify
  recvAsleep: /waitOn\[q\]==\(6\+1\).*\|\|capped\)/, // a receiver asleep for ever (no timeout) while the queue is not empty
  sendAsleep: /waitOn\[q\]==\(7\+1\).*\|\|capped\)/, // a sender asleep for ever (no timeout) while there is room
  recheck: /rescued\[q\]/, // asleep again after a timeout without looking at the queue
  mutex: /incs==1/,
  endedEarly: /\(ch\[3\]==ch\[2\]\)&&\(ch\[8\]==1\)/, // channel END: a receive returned "ended" with an item queued (or before the end)
  putAfterEnd: /\(ch\[8\]==0\)/, // channel END: put enqueues after the end
  endWakeup: /waitOn\[7\]\)>0\)&&\(ch\[8\]==1\)/, // channel END_WAKEUP: asleep on a counter of an ended ring
  staleWrite: /&&gstale\[/, // list: a cursor's change while another's change made it stale
  secondOwner: /\(0==own\[/, // list: the frame a change takes out is the list's (else a second owner)
  listBroken: /\(ended&&/, // list final: well formed, exactly the frames the ghost says it owns, lock free
  viewFresh: /\(cur==0\)\|\|\(\(own\[cur\]==0\)/, // list: a lock-free count check passes only on a frame still in the list
  growCount: /\(n<=mem\)/, // grow: a count read without the lock is addressable
  growStale: /\(f<view\)&&\(f<mem\)/, // grow: the bytes of a frame taken are reachable (no stale view)
  growEarly: /\(f<hdr\)&&\(f<mem\)/, // grow: no frame handed out past the count or the memory
  growFinal: /hdr==\(|freeF\[f\]\|\|held/, // grow final: the count is what the grows added; every frame below it free or held
  topicFreedRing: /violated ringAllocated \(/, // topic: a publisher offers to a subscription ring that was freed
  topicDoubleDrop: /\((ringRef|topicRef|refs\[f\])>0\)/, // topic: a reference dropped twice
  heapSlot: /where\[\(?[ht]-1\)?\]==(me|w)/, // heap: a pop takes a slot its stack holds; final: each stack holds what its ghost says
};

/** @type {Run[]} */
const RUNS = [
  // (a) the slot state machine
  { name: 'slot/code/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2'], expect: 'pass',
    what: 'claim/publish/fromInUse/clone/drop/tryFrom/intoFrame, 2 frames, 2 ops each' },
  { name: 'slot/code/w3', model: 'slot.pml', workers: 3, defines: ['NF=2', 'OPS=2', 'OPS_OTHERS=1'], expect: 'pass', big: true,
    what: 'the same, 3 workers (worker 1: 2 ops, the others 1)' },
  { name: 'slot/code+death/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'DEATH'], expect: 'pass',
    what: 'worker 2 may die at any step, reclaimWorker (decRef: owner written by the last reference only)' },
  { name: 'slot/code+death/w3', model: 'slot.pml', workers: 3, defines: ['NF=1', 'OPS=1', 'DEATH'], expect: 'pass', big: true,
    what: 'the same, 3 workers on 1 frame, 1 op each' },
  { name: 'slot/broken-decref-owner-any+death/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'DEATH', 'BROKEN_DECREF_OWNER_ANY'], expect: 'fail',
    property: P.frameLost, what: 'decRef before the fix (F1): every dropper writes S_OWNER, reclaim leaves a frame busy' },
  { name: 'slot/broken-publish-first/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'BROKEN_PUBLISH_FIRST'], expect: 'fail',
    property: P.metadata, what: 'count published before the metadata' },
  { name: 'slot/broken-nonatomic-dec/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'BROKEN_NONATOMIC_DEC'], expect: 'fail',
    property: P.conservation, what: 'decRef stores old - 1 instead of its CAS' },
  { name: 'slot/broken-frominuse-add/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'BROKEN_FROMINUSE_ADD'], expect: 'fail',
    property: P.conservation, what: 'fromInUse as a check and an add (no CAS)' },
  { name: 'slot/broken-tryfrom-load/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'BROKEN_TRYFROM_LOAD'], expect: 'fail',
    property: P.conservation, what: 'tryFrom as a load and a store (no CAS)' },
  { name: 'slot/broken-no-owner+death/w2', model: 'slot.pml', workers: 2, defines: ['NF=2', 'OPS=2', 'DEATH', 'BROKEN_NO_OWNER'], expect: 'fail',
    property: P.noDoubleFree, what: 'drops record no owner (S_OWNER): reclaim frees twice' },

  // (b) the per-worker caches, the buddy allocator, the lock, the steal and reclaimWorker
  { name: 'cache/code/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'DRAIN_OP'], expect: 'pass', big: true,
    what: 'refill/pop/push/flush/drain, buddy split+merge; worker 1 runs out and steals from V while V pops, pushes or drains; V may die at any step, reclaim under the lock' },
  { name: 'cache/code+thief-v/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'THIEF_V'], expect: 'pass', big: true,
    what: 'V runs out and steals from worker 1 while it pops and pushes; V may die at any step, its steal too' },
  { name: 'cache/code+refill-2/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'CAP=4'], expect: 'pass', big: true,
    what: 'capacity 4: a refill takes 2 frames and stacks one; a steal takes a run the refill\'s journal still names' },
  { name: 'cache/code/w3', model: 'cache.pml', workers: 3, defines: ['OPS=1', 'OPS_V=0'], expect: 'pass', big: true,
    what: 'the same, 3 workers (1 op each: two thieves; the dying one only gives its frame back, a flush)' },
  { name: 'cache/code+nomem-check/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'DRAIN_OP', 'NOMEM_CHECK'], expect: 'pass', big: true,
    what: 'NoMemory only when memory is gone (the buddy tried again after every steal: the fix of F4); V may die at any step' },
  { name: 'cache/code+nomem-check+thief-v/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'THIEF_V', 'NOMEM_CHECK'], expect: 'pass', big: true,
    what: 'the same, V the thief' },
  { name: 'cache/broken-nomem-no-retry+nomem-check/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'THIEF_V', 'NO_DEATH', 'NOMEM_CHECK', 'BROKEN_NOMEM_NO_RETRY'], expect: 'fail',
    property: P.noMemory, what: 'finding F4, the code before its fix: a steal that finds nothing answers NoMemory without looking at the buddy again, where a frame freed since sits' },
  { name: 'cache/broken-steal-no-cas/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_STEAL_NO_CAS'], expect: 'fail',
    property: P.stealTwice, what: 'the steal takes a run with a load and a plain store: the victim\'s pop in between, and both have the frame' },
  { name: 'cache/broken-steal-cas-before-journal+thief-v/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'THIEF_V', 'BROKEN_STEAL_CAS_BEFORE_JOURNAL'], expect: 'fail',
    property: P.cacheLost, what: 'the steal\'s CAS before its journal entry: a thief that dies in between loses the run' },
  { name: 'cache/broken-pop-no-cas/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_POP_NO_CAS'], expect: 'fail',
    property: P.popTwice, what: 'the pop checks the head with a load and stores UNUSED: a steal in between, and both have the frame' },
  { name: 'cache/broken-pop-before-journal/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_POP_BEFORE_JOURNAL'], expect: 'fail',
    property: P.cacheLost, what: 'the pop\'s CAS takes the frame before the journal names it' },
  { name: 'cache/broken-release-no-cas+drain/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'DRAIN_OP', 'BROKEN_RELEASE_NO_CAS'], expect: 'fail', big: true,
    property: P.allocOwner, what: 'a drain frees the runs it popped without releaseCachedRuns\' CAS: a run stolen meanwhile is freed twice' },
  { name: 'cache/broken-reclaim-counted-only/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_RECLAIM_COUNTED_ONLY'], expect: 'fail',
    property: P.cacheLost, what: 'reclaim takes only the entries under the count: a push that died before its count loses the frame' },
  { name: 'cache/broken-early-clear-runs+drain/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'DRAIN_OP', 'BROKEN_EARLY_CLEAR_RUNS'], expect: 'fail', big: true,
    property: P.cacheLost, what: 'freeOwnRuns clears the journal before marking the frames free' },
  { name: 'cache/broken-reclaim-no-free-check/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_RECLAIM_NO_FREE_CHECK'], expect: 'fail',
    property: P.allocOwner, what: 'reclaim frees journaled frames without the AUX_FREE check' },
  { name: 'cache/broken-reclaim-outside-lock/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_RECLAIM_OUTSIDE_LOCK'], expect: 'fail', big: true,
    property: P.allocOwner, what: 'reclaim before the fix (F2): judged without the lock, it frees a frame a live worker took' },
  { name: 'cache/broken-lock-no-owner/w2', model: 'cache.pml', workers: 2, defines: ['OPS=3', 'OPS_V=2', 'BROKEN_LOCK_NO_OWNER'], expect: 'fail',
    property: P.deadlock, what: 'the lock records no owner: a dead holder blocks everyone' },

  // (c) FrameChannel
  { name: 'channel/code/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=3'], expect: 'pass',
    what: '1 sender, 1 receiver, 3 frames through a 1-entry queue, both sides wait' },
  { name: 'channel/code/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3'], expect: 'pass',
    what: '1 sender, 2 receivers (2 + 1 frames)' },
  { name: 'channel/code+death-receiver/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'DEATH'], expect: 'pass', pan: ['-E'],
    what: 'a receiver dies at any step; lock takeover; a sender it owed a notify wakes by its timeout' },
  { name: 'channel/code+death-receiver+respawn/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'DEATH', 'RESPAWN'], expect: 'pass', pan: ['-E'],
    what: 'the same, and a new worker takes the dead one\'s id' },
  { name: 'channel/code+death-sender/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=2', 'DEATH_SENDER'], expect: 'pass', pan: ['-E'],
    what: 'the sender dies at any step (one receiver, woken by its timeout if owed a notify)' },
  { name: 'channel/code+death-sender/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'DEATH_SENDER'], expect: 'pass', pan: ['-E'],
    what: 'the sender dies at any step (two receivers)' },
  { name: 'channel/code+early-timeout/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'EARLY_TIMEOUT'], expect: 'pass',
    what: 'no death; a wait may time out at any step (mutual exclusion, FIFO, exactly once)' },
  { name: 'channel/code+early-timeout+death-receiver+respawn/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'DEATH', 'RESPAWN', 'EARLY_TIMEOUT'], expect: 'pass', pan: ['-E'],
    what: 'a receiver dies, its id is reused; a wait may time out at any step' },
  { name: 'channel/code+picky/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'PICKY'], expect: 'pass', pan: ['-E'],
    what: 'a receiver of another type refuses a frame (WrongType) and passes its wake-up on; notify wakes any sleeper' },
  { name: 'channel/code+end/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=3', 'END'], expect: 'pass',
    what: 'end of stream: the sender sends 3 frames and calls end(); the receiver receives until take, under the lock, finds the ring empty and ended' },
  { name: 'channel/code+end/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'END'], expect: 'pass',
    what: 'the same, 2 receivers: each returns "ended" only with the queue empty for good; every frame once, in order; everyone finishes' },
  { name: 'channel/code+end+late/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'END', 'LATE'], expect: 'pass',
    what: 'a second sender sends around the end: put sees C_ENDED under the lock (Closed, also after waiting for room) or its frame is received' },
  { name: 'channel/code+end+early-timeout/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'END', 'EARLY_TIMEOUT'], expect: 'pass',
    what: 'end of stream; a wait may time out at any step' },
  { name: 'channel/code+end+death-receiver/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'END', 'DEATH'], expect: 'pass', pan: ['-E'],
    what: 'end of stream; a receiver dies at any step (lock takeover): the sender ends, the other receiver finishes' },
  { name: 'channel/code+end+death-receiver+respawn/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'END', 'DEATH', 'RESPAWN'], expect: 'pass', pan: ['-E'],
    what: 'the same, and a new worker takes the dead one\'s id' },
  { name: 'channel/code+end+end-wakeup/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'END', 'END_WAKEUP'], expect: 'pass',
    what: 'the end wakes every waiter (the fix of F5: end bumps C_SENT and C_RECEIVED under the lock, await\'s ready() is true once ended)' },
  { name: 'channel/code+end+late+end-wakeup/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'END', 'LATE', 'END_WAKEUP'], expect: 'pass',
    what: 'the same with a second sender, which may wait for room when the end comes' },
  { name: 'channel/broken-end-no-bump+end+end-wakeup/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'END', 'END_WAKEUP', 'BROKEN_END_NO_BUMP'], expect: 'fail',
    property: P.endWakeup, what: 'finding F5, the code before its fix: a receiver between its counter load and its Atomics.wait when end() runs sleeps to its timeout (end bumps no counter)' },
  { name: 'channel/broken-unbounded-wait+death-sender/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=2', 'DEATH_SENDER', 'BROKEN_UNBOUNDED_WAIT'], expect: 'fail', pan: ['-E'],
    property: P.recvAsleep, what: 'waits before the fix (F3): a sender that dies before its notify leaves a receiver asleep' },
  { name: 'channel/broken-unbounded-wait+death-receiver/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'DEATH', 'BROKEN_UNBOUNDED_WAIT'], expect: 'fail', pan: ['-E'],
    property: P.sendAsleep, what: 'waits before the fix (F3): a receiver that dies before its notify leaves a sender asleep' },
  { name: 'channel/broken-wait-again+death-sender/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=2', 'DEATH_SENDER', 'BROKEN_WAIT_AGAIN'], expect: 'fail', pan: ['-E'],
    property: P.recheck, what: 'await waits again after a timeout without the caller\'s re-check' },
  { name: 'channel/broken-seen-after-check/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=3', 'BROKEN_SEEN_AFTER_CHECK'], expect: 'fail',
    property: P.recvWakeup, what: 'await loads the counter after re-checking the queue' },
  { name: 'channel/broken-notify-before-count/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=3', 'BROKEN_NOTIFY_BEFORE_COUNT'], expect: 'fail',
    property: P.recvWakeup, what: 'trySend reads the waiter count before bumping C_SENT' },
  { name: 'channel/broken-no-pass-on+picky/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'PICKY', 'BROKEN_NO_PASS_ON'], expect: 'fail', pan: ['-E'],
    property: P.recvWakeup, what: 'a receiver that refuses a frame keeps the wake-up it took: the other receiver sleeps with a frame queued' },
  { name: 'channel/broken-token-no-gen/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'DEATH', 'RESPAWN', 'BROKEN_TOKEN_NO_GEN'], expect: 'fail', pan: ['-E'],
    property: P.mutex, what: 'lock tokens without the generation: a reused id steals the lock' },
  { name: 'channel/broken-end-outside-lock+end/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'END', 'BROKEN_END_OUTSIDE_LOCK'], expect: 'fail',
    property: P.endedEarly, what: 'take reads C_ENDED after unlocking: the last send and the end in between, and a receiver returns "ended" with a frame queued' },
  { name: 'channel/broken-put-no-end-check+end+late/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=2', 'END', 'LATE', 'BROKEN_PUT_NO_END_CHECK'], expect: 'fail',
    property: P.putAfterEnd, what: 'put without its look at C_ENDED: a send is enqueued after the end' },
  { name: 'channel/broken-end-no-wake+end+end-wakeup/w3', model: 'channel.pml', workers: 3, defines: ['CAP=1', 'ITEMS=3', 'END', 'END_WAKEUP', 'BROKEN_END_NO_WAKE'], expect: 'fail',
    property: P.endWakeup, what: 'end() wakes nobody: safe and everyone finishes, by timeouts; only the end wake-up property fails' },
  { name: 'channel/broken-takeover-live/w2', model: 'channel.pml', workers: 2, defines: ['CAP=1', 'ITEMS=3', 'BROKEN_TAKEOVER_LIVE'], expect: 'fail',
    property: P.mutex, what: 'lock takeover without the tokenAlive check' },

  // (d) linked lists: fail-fast cursors, the list journal and repairList
  { name: 'list/code/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3'], expect: 'pass', big: true,
    what: 'a cursor (moveNext/takeCurrent/insertBefore/current, the lock per call, the count checked) against popFront/pushBack in another worker' },
  { name: 'list/code+death/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3', 'DEATH'], expect: 'pass', big: true,
    what: 'the same; the list worker may die at any step (journal, half a change), repairList redoes and releases' },
  { name: 'list/code+cursor-m+death/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3', 'CURSOR_M', 'DEATH'], expect: 'pass', big: true,
    what: 'the other worker pops through a cursor of its own: two cursors change the list; it may die at any step' },
  { name: 'list/broken-no-mod-check/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3', 'BROKEN_NO_MOD_CHECK'], expect: 'fail',
    property: P.staleWrite, what: 'cursor calls without the count check (the cursor before issue #14): a stale cursor changes the list' },
  { name: 'list/broken-no-mod-check+owners-only/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3', 'BROKEN_NO_MOD_CHECK', 'OWNERS_ONLY'], expect: 'fail',
    property: P.secondOwner, what: 'the same, only the owner ghost asserted: takeCurrent takes a popped frame again, a second owner (item 1)' },
  { name: 'list/broken-no-journal+death/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3', 'DEATH', 'BROKEN_NO_JOURNAL'], expect: 'fail',
    property: P.listBroken, what: 'changes without the list journal: a death mid-change leaves the list broken, repairList cannot redo' },
  { name: 'list/broken-mod-last/w2', model: 'list.pml', workers: 2, defines: ['OPS_C=4', 'OPS_M=3', 'BROKEN_MOD_LAST'], expect: 'fail',
    property: P.viewFresh, what: 'applyListOp bumps the count after the links: current passes its check on a frame being taken out' },
  // (e) growth: the grow step against allocations, views and a death mid-grow
  { name: 'grow/code/w4', model: 'grow.pml', workers: 4, defines: [], expect: 'pass',
    what: 'two growers (by 2, by 1) from 1 frame to 4, an allocator taking 2 frames, a reader of the count' },
  { name: 'grow/code+death/w5', model: 'grow.pml', workers: 5, defines: ['DEATH'], expect: 'pass',
    what: 'the first grower may die at any step holding the lock; reclaimWorker takes it over and completes the grow' },
  { name: 'grow/code+death/n2/w5', model: 'grow.pml', workers: 5, defines: ['DEATH', 'N0=2', 'MAXF=5'], expect: 'pass',
    what: 'the same from 2 frames to 5' },
  { name: 'grow/broken-count-first/w4', model: 'grow.pml', workers: 4, defines: ['BROKEN_COUNT_FIRST'], expect: 'fail',
    property: P.growCount, what: 'the count raised before the memory grows: a worker reads a count it cannot address' },
  { name: 'grow/broken-no-sync/w4', model: 'grow.pml', workers: 4, defines: ['BROKEN_NO_SYNC'], expect: 'fail',
    property: P.growStale, what: 'a worker keeps its view (no syncFrames/reachFrames): a stale view, as emnapi#217' },
  { name: 'grow/broken-free-first/w3', model: 'grow.pml', workers: 3, defines: ['BROKEN_FREE_FIRST', 'ONE_GROWER'], expect: 'fail',
    property: P.growEarly, what: 'the new frames freed (and the lock let go) before the memory grows: one is handed out early' },
  { name: 'grow/broken-no-complete+death/w5', model: 'grow.pml', workers: 5, defines: ['DEATH', 'BROKEN_NO_COMPLETE'], expect: 'fail',
    property: P.growFinal, what: 'reclaim rebuilds without finishing the dead grower\'s grow: its frames are lost' },
  // (f) topics: the table of subscriptions, publish's fan-out, unsubscribe, the sweep of a gone subscriber
  { name: 'topic/code/w3', model: 'topic.pml', workers: 3, defines: [], expect: 'pass',
    what: 'a publisher (2 frames) and a subscriber that subscribes, receives and unsubscribes: every reference back but the latest' },
  { name: 'topic/code+death/w3', model: 'topic.pml', workers: 3, defines: ['DEATH'], expect: 'pass',
    what: 'the subscriber may die at any step (its lock taken over); the reclaimer and the publisher sweep it, once' },
  { name: 'topic/code+death/p3c2/w3', model: 'topic.pml', workers: 3, defines: ['DEATH', 'PUBS=3', 'CAP=2'], expect: 'pass',
    what: 'the same with 3 frames and a queue of 2' },
  { name: 'topic/broken-unlocked-publish/w3', model: 'topic.pml', workers: 3, defines: ['BROKEN_UNLOCKED_PUBLISH'], expect: 'fail',
    property: P.topicFreedRing, what: 'publish offers after the unlock: the subscriber has left and its ring is freed' },
  { name: 'topic/broken-drop-before-remove/w3', model: 'topic.pml', workers: 3, defines: ['BROKEN_DROP_BEFORE_REMOVE'], expect: 'fail',
    property: P.topicFreedRing, what: 'unsubscribe lets go of its ring before it takes its entry out' },
  { name: 'topic/broken-sweep-live/w3', model: 'topic.pml', workers: 3, defines: ['BROKEN_SWEEP_LIVE'], expect: 'fail',
    property: P.topicDoubleDrop, what: "publish's sweep without the token check: a live subscriber's references dropped for it, then by it" },

  // (f) the heap's per-worker caches of free slots: owner CAS push/pop, whole-stack take
  { name: 'heap/code/w2', model: 'heap.pml', workers: 2, defines: ['NS=3', 'OPS=3'], expect: 'pass',
    what: 'cachePush/cachePop (one CAS each) of two workers, cross-worker frees, cacheTakeAll steals given back under the heap lock' },
  { name: 'heap/code/ns4/w2', model: 'heap.pml', workers: 2, defines: ['NS=4', 'OPS=4'], expect: 'pass',
    what: 'the same, 4 slots, 4 operations each' },
  { name: 'heap/code+death/w2', model: 'heap.pml', workers: 2, defines: ['NS=3', 'OPS=3', 'DEATH'], expect: 'pass', big: true,
    what: 'worker 2 may die at any step; reclaimWorker releases the heap lock and takes its stack whole' },
  { name: 'heap/broken-plain-push/w2', model: 'heap.pml', workers: 2, defines: ['NS=3', 'OPS=3', 'BROKEN_PLAIN_PUSH'], expect: 'fail',
    property: P.heapSlot, what: 'the push stores the head instead of its CAS: a steal in between is undone, its slots on two stacks' },
  { name: 'heap/broken-pop-no-cas/w2', model: 'heap.pml', workers: 2, defines: ['NS=3', 'OPS=3', 'BROKEN_POP_NO_CAS'], expect: 'fail',
    property: P.heapSlot, what: 'the pop stores the head instead of its CAS: a slot stolen meanwhile is popped too (two owners)' },
];

/**
 * @typedef {object} Result
 * @property {string} name
 * @property {string} model
 * @property {number} workers
 * @property {string[]} defines
 * @property {'pass' | 'fail'} expect
 * @property {string} what
 * @property {'pass' | 'fail' | 'incomplete' | 'error'} outcome
 * @property {boolean} ok            the outcome is the expected one
 * @property {number | null} errors
 * @property {number | null} statesStored
 * @property {number | null} transitions
 * @property {number | null} depth
 * @property {number | null} memoryMB
 * @property {number | null} panSeconds
 * @property {number} seconds        preprocess + spin + cc + pan
 * @property {string | undefined} violation  pan's error line
 * @property {string[] | undefined} trail    the counterexample, one line per step of a TypeScript function
 * @property {string | undefined} problem    why the outcome is not the expected one
 */

/**
 * Runs a command; resolves with its output (never rejects).
 * @param {string} cmd
 * @param {string[]} args
 * @param {string} cwd
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
function sh(cmd, args, cwd) {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * The first number captured by `re` in `text`, or null.
 * @param {string} text
 * @param {RegExp} re
 * @returns {number | null}
 */
function num(text, re) {
  const m = re.exec(text);
  return m === null ? null : Number(m[1]);
}

/**
 * The counterexample of a failed run as `Process #pid: comment` for every step whose line has a
 * comment (which names the TypeScript function the step models), the last `max` of them.
 * @param {string} spinOut output of `spin -t -p`
 * @param {string} source the preprocessed model
 * @param {number} max
 * @returns {string[]}
 */
export function condenseTrail(spinOut, source, max = 40) {
  const lines = source.split('\n');
  /** @type {string[]} */
  const out = [];
  let last = '';
  for (const l of spinOut.split('\n')) {
    const m = /^\s*\d+:\s+proc\s+(\d+)\s+\((\w+):\d+\)\s+\S+:(\d+)\s/.exec(l);
    if (m === null) {
      if (/Error|text of failed/.test(l)) out.push(l.trim());
      continue;
    }
    const key = `${m[1]}:${m[3]}`;
    if (key === last) continue;
    last = key;
    const comment = /\/\*\s*(.*?)\s*\*\//.exec(lines[Number(m[3]) - 1] ?? '');
    if (comment === null) continue;
    out.push(`${m[2]} #${m[1]}: ${comment[1]}`);
  }
  return out.slice(-max);
}

/**
 * One run: preprocess, spin -a, cc, pan; and the trail of a failure.
 * @param {Run} run
 * @param {string} root build directory
 * @returns {Promise<Result>}
 */
async function verifyOne(run, root) {
  const started = performance.now();
  const dir = join(root, run.name.replace(/[^\w.-]+/g, '_'));
  mkdirSync(dir, { recursive: true });
  /** @type {Result} */
  const result = {
    name: run.name, model: run.model, workers: run.workers, defines: run.defines, expect: run.expect, what: run.what,
    outcome: 'error', ok: false, errors: null, statesStored: null, transitions: null, depth: null,
    memoryMB: null, panSeconds: null, seconds: 0, violation: undefined, trail: undefined, problem: undefined,
  };
  const done = (/** @type {string | undefined} */ problem) => {
    result.seconds = Math.round((performance.now() - started) / 10) / 100;
    result.problem = problem;
    return result;
  };
  const defs = [`-DNW=${run.workers}`, ...run.defines.map((d) => `-D${d}`)];
  const pre = await sh('cc', ['-E', '-P', '-C', '-x', 'c', `-I${HERE}`, ...defs, join(HERE, run.model), '-o', 'model.pml'], dir);
  if (pre.code !== 0) return done(`cc -E failed: ${pre.stderr.trim()}`);
  const gen = await sh('spin', ['-a', 'model.pml'], dir);
  if (gen.code !== 0 || !existsSync(join(dir, 'pan.c'))) return done(`spin -a failed: ${(gen.stdout + gen.stderr).trim()}`);
  const cflags = ['-DSAFETY', '-DMEMLIM=4096', '-w', run.big ? '-O2' : '-O1'];
  if (run.big) cflags.push('-DCOLLAPSE');
  const comp = await sh('cc', [...cflags, '-o', 'pan', 'pan.c'], dir);
  if (comp.code !== 0) return done(`cc failed: ${comp.stderr.trim().slice(0, 2000)}`);
  const pan = await sh('./pan', ['-m100000', run.big ? '-w25' : '-w22', ...(run.pan ?? [])], dir);
  const out = pan.stdout + pan.stderr;
  writeFileSync(join(dir, 'pan.out'), out);
  result.errors = num(out, /errors:\s+(\d+)/);
  result.statesStored = num(out, /([\d.e+]+)\s+states, stored/);
  result.transitions = num(out, /([\d.e+]+)\s+transitions \(= stored\+matched\)/);
  result.depth = num(out, /depth reached\s+(\d+)/);
  result.memoryMB = num(out, /([\d.]+)\s+total actual memory usage/);
  result.panSeconds = num(out, /elapsed time\s+([\d.e+]+)\s+seconds/);
  const violation = /^pan:1: (.*)$/m.exec(out);
  result.violation = violation === null ? undefined : violation[1].trim();
  if (result.errors === null) return done(`pan did not finish: ${out.trim().slice(-500)}`);
  const incomplete = /out of memory|MEMLIM bound|max search depth too small|search not completed/i.test(out);
  if (result.errors === 0) {
    result.outcome = incomplete ? 'incomplete' : 'pass';
  } else {
    result.outcome = 'fail';
    const trail = await sh('spin', ['-t', '-p', 'model.pml'], dir);
    result.trail = condenseTrail(trail.stdout, readFileSync(join(dir, 'model.pml'), 'utf8'));
  }
  if (run.expect === 'pass') {
    if (result.outcome === 'pass') result.ok = true;
    else return done(result.outcome === 'incomplete' ? 'the search did not cover the whole state space' : `unexpected error: ${result.violation}`);
  } else if (result.outcome !== 'fail') {
    return done('no counterexample found: the broken protocol passed (the model lost its teeth)');
  } else if (run.property !== undefined && !run.property.test(result.violation ?? '')) {
    return done(`a counterexample, but not of the expected property ${String(run.property)}: ${result.violation}`);
  } else {
    result.ok = true;
  }
  return done(undefined);
}

/**
 * Runs `fn` over `items`, at most `jobs` at a time, keeping the order of the results.
 * @template T, R
 * @param {T[]} items
 * @param {number} jobs
 * @param {(item: T) => Promise<R>} fn
 * @returns {Promise<R[]>}
 */
async function pool(items, jobs, fn) {
  /** @type {R[]} */
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      out[k] = await fn(items[k]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return out;
}

/**
 * @param {number | null} n
 * @returns {string}
 */
function fmt(n) {
  if (n === null) return '-';
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n);
}

/**
 * The result table, as text.
 * @param {Result[]} results
 * @returns {string}
 */
export function table(results) {
  const head = ['run', 'expect', 'result', 'states', 'transitions', 'depth', 'MB', 'time'];
  const rows = results.map((r) => [
    r.name,
    r.expect,
    `${r.outcome}${r.ok ? '' : '  <-- UNEXPECTED'}`,
    fmt(r.statesStored),
    fmt(r.transitions),
    fmt(r.depth),
    r.memoryMB === null ? '-' : String(Math.round(r.memoryMB)),
    `${r.seconds.toFixed(1)}s`,
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (/** @type {string[]} */ cells) => cells.map((cell, c) => (c >= 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * The first line a tool prints about its version, or null if it cannot be run.
 * @param {string} cmd
 * @param {string[]} args
 * @returns {string | null}
 */
function version(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error !== undefined || r.status === null) return null;
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? '';
}

async function main() {
  const argv = process.argv.slice(2);
  const arg = (/** @type {string} */ name) => {
    const k = argv.indexOf(name);
    return k >= 0 ? argv[k + 1] : undefined;
  };
  const spin = version('spin', ['-V']);
  const cc = version('cc', ['--version']);
  if (spin === null || cc === null) {
    console.error(
      `verify: ${spin === null ? "SPIN ('spin') is" : "a C compiler ('cc') is"} not installed. ` +
        'On Debian or Ubuntu: apt-get install -y spin gcc',
    );
    process.exit(2);
  }
  const only = arg('--only');
  const jobs = Number(arg('--jobs') ?? process.env.VERIFY_JOBS ?? 2);
  const runs = only === undefined ? RUNS : RUNS.filter((r) => r.name.includes(only));
  const root = mkdtempSync(join(tmpdir(), 'pageframe-verify-'));
  console.log(`${spin}; ${runs.length} runs, ${jobs} at a time, in ${root}`);
  const started = performance.now();
  const results = await pool(runs, jobs, async (run) => {
    const r = await verifyOne(run, root);
    console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name}: ${r.outcome}, ${fmt(r.statesStored)} states, ${r.seconds.toFixed(1)}s${r.problem ? ` -- ${r.problem}` : ''}`);
    return r;
  });
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  console.log(`\n${table(results)}\n`);
  if (argv.includes('--trails')) {
    for (const r of results.filter((x) => x.trail !== undefined)) {
      console.log(`${r.name}: ${r.violation}\n${(r.trail ?? []).map((l) => `    ${l}`).join('\n')}\n`);
    }
  }
  const bad = results.filter((r) => !r.ok);
  for (const r of bad) {
    console.log(`UNEXPECTED ${r.name}: ${r.problem}`);
    if (r.trail !== undefined) console.log(r.trail.map((l) => `    ${l}`).join('\n'));
  }
  console.log(`${results.length - bad.length}/${results.length} as expected in ${seconds}s (wall).`);
  if (!argv.includes('--no-write') && only === undefined) {
    const file = join(HERE, 'results.json');
    writeFileSync(file, `${JSON.stringify({ spin, cc, jobs, wallSeconds: seconds, runs: results }, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
  if (!argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
  process.exit(bad.length === 0 ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
