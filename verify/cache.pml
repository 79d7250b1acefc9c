/*
 * Model (b): the per-worker caches of src/frame-allocator/cache.ts in front of the buddy
 * allocator of src/frame-allocator/buddy.ts, their stacks and the cached-head marks
 * (src/region/workers.ts, src/region/meta.ts cachedHead), the journals (src/region/journal.ts),
 * the buddy's words (src/region/free-lists.ts), the shared lock with its owner record
 * (src/shm/lock.ts), the steal before NoMemory (CachedAllocator.stealCaches) and reclaimWorker
 * (src/workers/reclaim.ts) when worker V dies at any step.
 *
 * NF = 4 frames, orders 0..2 (the buddy code's split and merge, for real), one cache class
 * (k = 1) whose capacity is scaled down from CACHE_CAPACITY[1] so that the refill and flush
 * paths are reachable with 4 frames (the code's formulas are kept: refill takes CAP >> 1 runs,
 * a flush gives back the new run and the top CAP >> 1 - 1 runs). With k = 1 every cached
 * frame heads its own run, so its count word S_REF is cachedHead(w, 1) = CACHED_HEAD(w) while
 * worker w caches it, and RC_UNUSED otherwise. Frames handed out stay raw (popOne's `to` is
 * RC_UNUSED, the path of alloc; takeCached's `to` = 0, busy, is slot.pml's business).
 *
 * Atomic operations are one step each, plain reads and writes of shared words one step each,
 * except that a journal entry (recordOp, recordRun(s), appendRun, clearOp) is one step: its words
 * are written so that the entry is invalid until the last one, which is what makes it atomic
 * for its only reader, reclaim (which reads it after the worker died); the list surgery of one
 * buddy push / unlink / insertChunk / allocChunk is one step (it runs under the lock; the only
 * lock-free observer, reclaim, reads S_PREV and S_AUX, whose intermediate values inside it are
 * covered by the values at its ends); a few reads of a worker's own stack count and journal
 * (words only it writes while it lives) are folded into the next step: popCachedRuns' and
 * stealRun's, and the re-reads of a count whose value the worker knows. The reclaimer, which
 * holds the lock and does not die, takes V's cached runs in one step and frees what it judged
 * and empties V's record in one step: no lock-free step of a live worker reads or writes what
 * those steps read and write (V is dead, and only V marks a head CACHED(V)); its judgment of
 * each journaled frame keeps one step per word it reads (the count, the owner, the free mark).
 *
 * Not modelled: runs of 2..4 frames (classes k > 1; reclaimJournaled's skip of another's run),
 * the batches of AJ_MAX_RUNS runs of a steal (the model's steals record at most 4), the drain
 * that fromBuddy does before its steal (with one class it finds the count 0 that popOne left),
 * the claim of takeCached and the fast path (popOne's `to` = 0: a busy frame, whose recovery
 * slot.pml checks), the fast path's drop (its push takes pushOne's steps), close().
 *
 * Initial states (reachable ones: a worker took frames 1..3 and gave 2 and 3 back): frame 0 free
 * in the buddy allocator, frames 2 and 3 in the cache of worker OWNER0 (full with CAP = 2),
 * frame 1 held by OWNER0; the other workers have nothing. By default OWNER0 = V: worker 1 runs
 * out at its second allocation and steals from V while V pops, pushes, drains (DRAIN_OP:
 * sys.drainCaches(), one of V's operations) or dies; V's caller may hold HANDS_V = 3 frames, so
 * that V can take all of them and leave worker 1 with NoMemory, and V runs out and steals in
 * turn once worker 1 caches frames. With THIEF_V, OWNER0 = worker 1 and V is the thief from the
 * start: it runs out at its second allocation and steals from worker 1 while worker 1 pops and
 * pushes, and V may die at any step of its steal; V's stack names frame 3 above its count (a
 * stale entry: V cached frame 3 once), so that when V dies after its CAS won frame 3, worker 1,
 * running out in turn, finds frame 3 marked CACHED(V) through that entry and steals it from the
 * dead thief (which is safe: its CAS takes the mark, and reclaim then finds it gone). With
 * CAP = 4 a refill takes 2 frames and stacks one (flushes are then out of reach). NO_DEATH: V
 * does not die.
 *
 * Ghost gl[f]: where frame f is: BUDDY, CACHED(w) (its head says cachedHead(w) and w's stack
 * names it), OUT(w) (on its way, in an operation of w that its journals name) or HELD(w)
 * (handed to w's caller: a raw frame). A head marked CACHED(w) is in w's cache (CACHED(w)), or
 * won by w's steal and not settled yet (OUT(w)). Every move asserts where the frame comes from, so a frame
 * handed out twice, freed twice or freed by someone who does not own it fails an assertion; and
 * at the end a frame may be out of the allocator only in the hands of the dead worker's caller
 * (lost by design: nobody knows it), never OUT, and a frame is marked cached exactly when a
 * live worker's stack counts it.
 *
 * NoMemory (NOMEM_CHECK): the property the steal is for, stated so that it can be checked
 * honestly. A worker w that answers NoMemory must have found memory gone, up to frames that
 * other workers had in their hands meanwhile: at the moment fromBuddy gives up, every frame that
 * is free (in the buddy allocator, or cached by any worker, live or dead) was at some moment
 * since w's steal began (its lock) out of the allocator in another worker's operation or hands
 * (ghost OUT(x) or HELD(x), x != w; a dead worker's frames count as its own, reclaimed or not).
 * A frame free all along from the steal's start to the NoMemory is a frame w could have had:
 * the check fails. Ghost touch[f] bit w: f was in another's hands since w's steal began.
 * fromBuddy tries the buddy allocator again after the steal even if it stole nothing: the fix of
 * finding F4 (docs/verification.md), which this check found; BROKEN_NOMEM_NO_RETRY is the code
 * before it (a second try only if the steal got something).
 *
 * Broken variants:
 *   BROKEN_LOCK_NO_OWNER     the lock word says "held" (1), not who holds it -> deadlock
 *   BROKEN_POP_BEFORE_JOURNAL the pop's CAS takes the frame before the journal names it -> lost
 *                            (before the steal: the count lowered before the journal entry)
 *   BROKEN_POP_NO_CAS        the pop checks the head with a load, then stores RC_UNUSED (no CAS):
 *                            a thief's CAS in between, and both have the frame
 *   BROKEN_STEAL_NO_CAS      the steal takes the head with a load and a plain store (no CAS): the
 *                            victim's pop in between, and both have the frame
 *   BROKEN_STEAL_CAS_BEFORE_JOURNAL the steal's CAS before its journal entry: a thief that dies
 *                            in between loses the run
 *   BROKEN_RELEASE_NO_CAS    a flush or drain frees the runs it popped without releaseCachedRuns'
 *                            CAS: a run stolen meanwhile is freed twice
 *   BROKEN_RECLAIM_COUNTED_ONLY reclaim takes only the entries under the stack's count: a push
 *                            that died between the head's mark and the count loses the frame
 *   BROKEN_EARLY_CLEAR_RUNS  freeOwnRuns clears the journal before marking the frames free -> lost
 *                            (needs DRAIN_OP: with CAP = 2 a flush's only run is its new one,
 *                            which the operation journal names too)
 *   BROKEN_RECLAIM_NO_FREE_CHECK reclaim frees journaled frames without the AUX_FREE check -> double free
 *   BROKEN_RECLAIM_OUTSIDE_LOCK  reclaim judges the journaled frames without the allocator lock and
 *                                frees them with freeRuns, as before the fix of finding F2
 *                                -> a frame a live worker took is freed again
 *
 * reclaim is the fixed code: it takes the allocator lock (lockWithin(H_BUDDY_LOCK)) before its
 * first look at the record and a journaled frame (reclaimFramesLocked, reclaimJournaled) and
 * holds it until the cached runs and the frames judged on their way are freed
 * (buddy.freeRunsLocked) and the record is emptied and free. Only V dies here, and its lock is
 * taken over first, so the wait always ends with the lock: the code's way out when the lock
 * stays held (another dead worker not reclaimed yet: V left WORKER_EXITED) is not modelled.
 */
#include "common.pml"

#ifndef NW
#define NW 2
#endif
#ifndef OPS
#define OPS 3            /* operations of each live worker (alloc, dealloc) */
#endif
#ifndef OPS_V
#define OPS_V 2          /* operations of worker V, the one that may die (alloc, dealloc, drain) */
#endif
#ifndef HANDS
#define HANDS 2          /* frames the caller of a live worker holds at most */
#endif
#ifndef HANDS_V
#define HANDS_V 3        /* frames the caller of V holds at most */
#endif
#define H 3
#define NF 4
#define MAXO 3           /* orders 0..2 (the code: MAX_ORDER = 21) */
#define CACHE_CAPACITY_1 32   /* region/workers.ts CACHE_CAPACITY[1] */
#ifndef CAP
#define CAP 2                 /* the model's capacity of class 1 (scaled down) */
#endif
#define RUNS (CAP >> 1)       /* refill: CACHE_CAPACITY[k] >> 1 runs of k = 1 frame */
#define AJM 4                 /* allocator-journal runs the model's paths record at most (AJ_MAX_RUNS = 20) */
#define AUX_HEAD 536870912    /* region/meta.ts AUX_HEAD (0x2000_0000) */
#define RC_CACHED_TAG 4096    /* region/meta.ts RC_CACHED_TAG (0x1000) */
#define CACHED_HEAD(w) (-(RC_CACHED_TAG | (1 << 7) | (w)))
#define V NW
#define RECLAIMER (NW + 1)
#define NONE 255

#ifdef THIEF_V
#define OWNER0 1
#else
#define OWNER0 V
#endif

#define BUDDY 0
#define CACHED(w) (w)
#define OUT(w) (8 + (w))
#define HELD(w) (16 + (w))

int slot[NF * SLOT_HDR];
byte heads[MAXO];        /* H_BUDDY_HEADS: index + 1 of the first chunk of each order */
byte bfree;              /* H_BUDDY_FREE */
byte lockw;              /* H_BUDDY_LOCK: the holder's token (small here: gen 1) */

/* Worker records: the class-1 stack (count, entries 1..CAP), the operation journal (one frame:
 * the model's operations all journal one), the allocator journal (runs [index, n]). */
byte cnt[NW + 2];
byte ent[(NW + 2) * (CAP + 1)];
byte opStart[NW + 2];
byte opKind[NW + 2];
byte ajCount[NW + 2];
byte ajRun[(NW + 2) * AJM];  /* W_AJ_RUNS: index of each run */
byte ajLen[(NW + 2) * AJM];  /* W_AJ_RUNS: n of each run */
#define AJ(w, r) ajRun[(w) * AJM + (r)]
#define AJN(w, r) ajLen[(w) * AJM + (r)]
bit wstate[NW + 2];      /* W_STATE: attached */

byte gl[NF];             /* ghost: where the frame is */
#ifdef NOMEM_CHECK
byte touch[NF];          /* ghost: bit w, f was in another worker's hands since w's steal began */
byte inWin;              /* ghost: bit w, w is between its steal and its answer */
#endif
bit killed[NW + 1];
bit gone[NW + 1];
bit finished[NW + 1];
bit reclaimed;
byte done;

#define ENT(w, e) ent[(w) * (CAP + 1) + (e)]
#define HEAD_AUX(o) (AUX_FREE | AUX_HEAD | (o))
#define MAX_ORDER_FROM(i) ((i) == 0 -> MAXO - 1 : (((i) & 1) -> 0 : (((i) & 2) -> 1 : 2)))
#define LESSER_ORDER_OF(n) ((n) >= 4 -> 2 : ((n) >= 2 -> 1 : 0))
#define GREATER_ORDER_OF(n) ((n) <= 1 -> 0 : ((n) <= 2 -> 1 : 2))

/* A ghost move of frame f_ to place to_; with NOMEM_CHECK, a frame going into the hands of
 * worker x (OUT(x), HELD(x)) is touched for every other worker in its NoMemory window. */
#ifdef NOMEM_CHECK
#define MOVE(f_, to_) gl[f_] = (to_); if :: (to_) >= 8 -> touch[f_] = touch[f_] | (inWin & ~(1 << ((to_) & 7))) :: else fi
#else
#define MOVE(f_, to_) gl[f_] = (to_)
#endif

#ifdef BROKEN_LOCK_NO_OWNER
#define MY_TOKEN 1
#else
#define MY_TOKEN TOKEN(1, me)   /* gen 1: no worker re-attaches in this model */
#endif

/* ---- lock.ts ------------------------------------------------------------------------------ */
/* lock: CAS 0 -> token; while held, lockSlow spins and sleeps with a timeout and tries again,
 * which is this blocking guard. */
inline LOCK() { atomic { lockw == 0 -> lockw = MY_TOKEN } }   /* lock: Atomics.compareExchange(0, token) */
inline UNLOCK() { lockw = 0 }             /* unlock: Atomics.store 0 (then notify) */

/* ---- buddy.ts list surgery (plain statements; the callers wrap them in d_step) ----------- */
inline bpush(i_, o_) {                    /* push(index, order) */
  nx = heads[o_];
  W(i_, S_NEXT) = nx; W(i_, S_PREV) = 0; W(i_, S_AUX) = HEAD_AUX(o_);
  if :: nx != 0 -> W(nx - 1, S_PREV) = i_ + 1 :: else fi;
  heads[o_] = i_ + 1; nx = 0
}
inline bunlink(i_, o_) {                  /* unlink(index, order) */
  nx = W(i_, S_NEXT); pv = W(i_, S_PREV);
  if :: pv == 0 -> heads[o_] = nx :: else -> W(pv - 1, S_NEXT) = nx fi;
  if :: nx != 0 -> W(nx - 1, S_PREV) = pv :: else fi;
  W(i_, S_NEXT) = 0; W(i_, S_PREV) = 0; W(i_, S_AUX) = AUX_FREE; nx = 0; pv = 0
}
inline insertChunk(i_, o_) {              /* insertChunk: merge with free buddies, then push */
  do
  :: o_ + 1 < MAXO ->
     bd = i_ ^ (1 << o_);
     if
     :: bd + (1 << o_) <= NF && W(bd, S_AUX) == HEAD_AUX(o_) && W(bd, S_REF) == RC_UNUSED ->
        bunlink(bd, o_); i_ = (i_ < bd -> i_ : bd); o_++
     :: else -> break
     fi
  :: else -> break
  od;
  bpush(i_, o_); bd = 0
}
inline insertRun(i_, n_) {                /* insertRun: splitToChunks, insertChunk each (uses ord, ci, co) */
  do
  :: n_ > 0 ->
     ord = (MAX_ORDER_FROM(i_) < LESSER_ORDER_OF(n_) -> MAX_ORDER_FROM(i_) : LESSER_ORDER_OF(n_));
     ci = i_; co = ord;
     insertChunk(ci, co);
     i_ = i_ + (1 << ord); n_ = n_ - (1 << ord)
  :: else -> break
  od;
  ord = 0; ci = 0; co = 0
}
inline allocChunk(r_, o_) {               /* allocChunk(order): unlink, split down to order */
  co = o_;
  do :: co < MAXO && heads[co] == 0 -> co++ :: else -> break od;
  if
  :: co == MAXO -> r_ = NONE
  :: else ->
     r_ = heads[co] - 1; bunlink(r_, co);
     do :: co > o_ -> co--; bpush(r_ + (1 << co), co) :: else -> break od
  fi;
  co = 0
}

/* buddy.allocJournaled(n_, 1, journal): the first frame r_ of n_ (NONE if none). `refill` says
 * which journal: recordRun (refill) or recordOp (fromBuddy). */
inline buddyAlloc(r_, n_, refill) {
  LOCK();                                 /* allocJournaled: lockAllocator(r) */
  d_step { allocChunk(r_, GREATER_ORDER_OF(n_)) }   /* allocJournaled: allocChunk(order) */
  if
  :: r_ == NONE -> UNLOCK()               /* allocJournaled: no chunk (findRun finds no run either): unlock, null */
  :: else ->
     if                                   /* journal?.(index, nframes) */
     :: refill -> d_step { AJ(me, 0) = r_; AJN(me, 0) = n_; ajCount[me] = 1 }   /* recordRun: the block (refill) */
     :: else -> d_step { opKind[me] = OP_OWNED; opStart[me] = r_ + 1 }   /* recordOp: OP_OWNED (fromBuddy) */
     fi;
     fx = r_;
     do
     :: fx < r_ + n_ ->
        W(fx, S_PREV) = me;               /* markTaken: S_OWNER first */
        W(fx, S_NEXT) = 0;                /* markTaken: S_NEXT = 0 */
        d_step {                          /* markTaken: S_AUX = 0, no longer free */
          W(fx, S_AUX) = 0;
          assert(gl[fx] == BUDDY);        /* a frame is never handed out twice */
          MOVE(fx, OUT(me))
        }
        fx++
     :: else -> break
     od;
     fx = 0;
     bfree = bfree - n_;                  /* addFreeCount: H_BUDDY_FREE -= nframes */
     UNLOCK()                             /* allocJournaled: unlockAllocator(r) */
  fi
}

/* buddy.freeRunsLocked(runs): the frames of bitmask m_ (runs of one frame), lock held. */
inline freeRunsLocked(m_, owner) {
  fx = 0;
  do                                      /* freeRunsLocked: S_AUX = AUX_FREE for every frame first */
  :: fx < NF && (m_ & (1 << fx)) ->
     d_step {
       assert(gl[fx] == OUT(owner));      /* no double free, and only by the frame's owner */
       W(fx, S_AUX) = AUX_FREE; MOVE(fx, BUDDY)
     }
     fx++
  :: fx < NF && !(m_ & (1 << fx)) -> fx++
  :: fx == NF -> break
  od;
  fx = 0; nn = 0;
  do                                      /* freeRunsLocked: insertRun for every run */
  :: fx < NF && (m_ & (1 << fx)) -> d_step { ii = fx; rn = 1; insertRun(ii, rn); ii = 0; rn = 0; nn++ }; fx++
  :: fx < NF && !(m_ & (1 << fx)) -> fx++
  :: fx == NF -> break
  od;
  bfree = bfree + nn;                     /* freeRunsLocked: H_BUDDY_FREE += total */
  fx = 0; nn = 0
}

/* freeRunsLocked for the reclaimer, as one step (inside a d_step): see Reclaimer. */
inline freeRunsAtOnce(m_, owner) {
  fx = 0; nn = 0;
  do
  :: fx < NF && (m_ & (1 << fx)) -> assert(gl[fx] == OUT(owner)); W(fx, S_AUX) = AUX_FREE; MOVE(fx, BUDDY); fx++
  :: fx < NF && !(m_ & (1 << fx)) -> fx++
  :: fx == NF -> break
  od;
  fx = 0;
  do
  :: fx < NF && (m_ & (1 << fx)) -> ii = fx; rn = 1; insertRun(ii, rn); ii = 0; rn = 0; nn++; fx++
  :: fx < NF && !(m_ & (1 << fx)) -> fx++
  :: fx == NF -> break
  od;
  bfree = bfree + nn; fx = 0; nn = 0
}

/* ---- workers.ts: the owner's stack ---------------------------------------------------------- */
/* popOne(r, RC_UNUSED): the top frame its worker still caches, in f (NONE: none). */
inline popOne() {
  c = cnt[me];                            /* popOne: count = i32[one] */
  do
  :: c > 0 ->
     f = ENT(me, c);                      /* popOne: index = i32[one + count] */
     if
     :: W(f, S_REF) != CACHED_HEAD(me) -> c--   /* popOne: Atomics.load(i32, w) !== want: stolen since, a stale entry */
     :: else ->
#if defined(BROKEN_POP_BEFORE_JOURNAL)
        d_step {                          /* BROKEN: the CAS before the journal entry */
          if
          :: W(f, S_REF) == CACHED_HEAD(me) -> W(f, S_REF) = RC_UNUSED; assert(gl[f] == CACHED(me)); MOVE(f, OUT(me)); ok = 1
          :: else -> ok = 0
          fi
        }
        d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }   /* popOne: recordOp(OP_OWNED, index, 1) */
#elif defined(BROKEN_POP_NO_CAS)
        d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }   /* popOne: recordOp(OP_OWNED, index, 1) */
        d_step {                          /* BROKEN: a plain store instead of the CAS */
          W(f, S_REF) = RC_UNUSED; assert(gl[f] == CACHED(me)); MOVE(f, OUT(me)); ok = 1
        }
#else
        d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }   /* popOne: recordOp(OP_OWNED, index, 1) */
        d_step {                          /* popOne: Atomics.compareExchange(i32, w, want, to) */
          if
          :: W(f, S_REF) == CACHED_HEAD(me) -> W(f, S_REF) = RC_UNUSED; assert(gl[f] == CACHED(me)); MOVE(f, OUT(me)); ok = 1
          :: else -> ok = 0
          fi
        }
#endif
        if
        :: ok -> cnt[me] = c - 1; break   /* popOne: i32[one] = count - 1 */
        :: else -> c--                    /* popOne: stolen just now */
        fi
     fi
  :: c == 0 -> cnt[me] = 0; f = NONE; break   /* popOne: i32[one] = 0, -1 */
  od;
  c = 0; ok = 0
}

/* pushOne(r, fr, CAP) (pushCached(r, 1, fr) takes the same steps): ok = 0 if full. `from`: where
 * the frame is (HELD: the caller's, giveBackOne). */
inline pushOne(fr, from) {
  c = cnt[me];                            /* pushOne: count = i32[one] */
  if
  :: c >= CAP -> ok = 0                   /* pushOne: count >= capacity: false */
  :: else ->
     ENT(me, c + 1) = fr;                 /* pushOne: i32[one + count + 1] = index */
     d_step {                             /* pushOne: Atomics.store(i32, w, r.cachedOne): cached from here on */
       W(fr, S_REF) = CACHED_HEAD(me); assert(gl[fr] == from); MOVE(fr, CACHED(me))
     }
     cnt[me] = c + 1;                     /* pushOne: i32[one] = count + 1 */
     ok = 1
  fi;
  c = 0
}

/* ---- cache.ts ------------------------------------------------------------------------------- */
/* freeOwnRuns(runs, raw): the n runs in this worker's allocator journal (its `runs`), the first
 * `raw` of them its raw frames, the others won back from its cache first. */
inline freeOwnRuns(raw) {
  LOCK();                                 /* freeOwnRuns: lockAllocator(r) */
#ifdef BROKEN_EARLY_CLEAR_RUNS
  ajCount[me] = 0;                        /* BROKEN: the journal cleared first */
#endif
  m = 0; k = 0;
  do :: k < raw -> m = m | (1 << AJ(me, k)); k++ :: else -> break od;
  do
  :: k < n ->
#ifdef BROKEN_RELEASE_NO_CAS
     d_step {                             /* BROKEN: freed as popped, without the CAS */
       W(AJ(me, k), S_REF) = RC_UNUSED;
       if :: gl[AJ(me, k)] == CACHED(me) -> MOVE(AJ(me, k), OUT(me)) :: else fi;
       m = m | (1 << AJ(me, k))
     }
#else
     d_step {                             /* releaseCachedRuns: Atomics.compareExchange(i32, w, want, RC_UNUSED) */
       if
       :: W(AJ(me, k), S_REF) == CACHED_HEAD(me) ->
          W(AJ(me, k), S_REF) = RC_UNUSED; assert(gl[AJ(me, k)] == CACHED(me)); MOVE(AJ(me, k), OUT(me));
          m = m | (1 << AJ(me, k))
       :: else                            /* releaseCachedRuns: stolen since, or named twice: dropped */
       fi
     }
#endif
     k++
  :: else -> break
  od;
  freeRunsLocked(m, me);                  /* freeOwnRuns: buddy.freeRunsLocked(won) */
#ifndef BROKEN_EARLY_CLEAR_RUNS
  ajCount[me] = 0;                        /* freeOwnRuns: clearRuns(r), before the unlock */
#endif
  UNLOCK();                               /* freeOwnRuns: unlockAllocator(r) */
  m = 0; k = 0; n = 0
}

/* push's flush of a full stack: the new run fr (raw) and the top CAP >> 1 - 1 runs. */
inline flush(fr) {
  d_step {                                /* popCachedRuns: recordRuns(runs): the new run, the top runs, then their count */
    c = cnt[me];
    AJ(me, 0) = fr; AJN(me, 0) = 1; n = 1;
    e = c - ((CAP >> 1) - 1) + 1;
    do :: e <= c -> AJ(me, n) = ENT(me, e); AJN(me, n) = 1; n++; e++ :: else -> break od;
    ajCount[me] = n; e = 0
  }
  cnt[me] = c - ((CAP >> 1) - 1);         /* popCachedRuns: i32[base] = count - m */
  freeOwnRuns(1);                         /* push: this.freeOwnRuns(runs, 1) */
  c = 0
}

/* dealloc(paddr, 1): giveBackOne, and if the stack is full deallocSlow (recordOp, give: flush). */
inline dealloc(fr) {
  d_step {                                /* giveBackOne: S_REF is RC_UNUSED and AUX_FREE clear (a legal caller's frame), i32[w + S_OWNER] = r.workerId */
    assert(W(fr, S_REF) == RC_UNUSED && (W(fr, S_AUX) & AUX_FREE) == 0);
    W(fr, S_OWNER) = me
  }
  pushOne(fr, HELD(me));                  /* giveBackOne: pushOne(r, index, capacity) */
  if
  :: ok -> ok = 0                         /* giveBackOne: GIVEN */
  :: else ->                              /* deallocSlow: GIVE_STACK_FULL */
     d_step {                             /* deallocSlow: recordOp(OP_OWNED, index, 1) (ownFrames: S_OWNER is me already) */
       opKind[me] = OP_OWNED; opStart[me] = fr + 1;
       assert(gl[fr] == HELD(me)); MOVE(fr, OUT(me))
     }
     /* give: pushOne and push's pushCached read the count again: full (only this worker writes it) */
     flush(fr);
     d_step { opStart[me] = 0; opKind[me] = 0 }   /* deallocSlow: clearOp */
  fi
}

/* drainCaches() (sys.drainCaches(), close()): every entry under the count back to the buddy. */
inline drainCaches() {
  d_step {                                /* popCachedRuns: recordRuns(runs): every entry, then their count */
    c = cnt[me]; e = 1; n = 0;
    do :: e <= c -> AJ(me, n) = ENT(me, e); AJN(me, n) = 1; n++; e++ :: else -> break od;
    ajCount[me] = n; e = 0
  }
  cnt[me] = 0;                            /* popCachedRuns: i32[base] = count - m */
  freeOwnRuns(0);                         /* drainCaches: this.freeOwnRuns(runs) */
  c = 0
}

/* refill(1): CAP >> 1 runs from the buddy as one block; the first in f (NONE if none). */
inline refill() {
  buddyAlloc(f, RUNS, 1);                 /* refill: buddy.allocJournaled(runs * k, 1, recordRun) */
  if
  :: f != NONE ->
     e = 1;
     do                                   /* stackRuns: the runs but the first, the lowest on top */
     :: e <= RUNS - 1 ->
        ENT(me, e) = f + 1 + (RUNS - 1 - e);   /* stackRuns: i32[base + e] = index */
        d_step {                          /* stackRuns: Atomics.store(i32, slotWord(r, index), head) */
          W(f + 1 + (RUNS - 1 - e), S_REF) = CACHED_HEAD(me);
          assert(gl[f + 1 + (RUNS - 1 - e)] == OUT(me)); MOVE(f + 1 + (RUNS - 1 - e), CACHED(me))
        }
        e++
     :: else -> break
     od;
     e = 0;
     cnt[me] = (CAP >> 1) - 1;            /* stackRuns: i32[base] = m */
     d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }   /* refill: recordOp(OP_OWNED, first, k) */
     ajCount[me] = 0                      /* refill: clearRuns(this.r) */
  :: else
  fi
}

/* stealRun(r, vi, sf, 1, count): the run the load of forEachCachedEntry found cached by vi. */
inline stealRun() {
  if
  :: W(sf, S_REF) == CACHED_HEAD(vi) ->   /* stealRun: Atomics.load(r.i32, w) === want */
#ifndef BROKEN_STEAL_CAS_BEFORE_JOURNAL
     d_step { n = ajCount[me]; AJ(me, n) = sf; AJN(me, n) = 1; ajCount[me] = n + 1 }   /* stealRun: appendRun(r, count, index, k) */
#endif
#ifdef BROKEN_STEAL_NO_CAS
     d_step {                             /* BROKEN: a plain store instead of the CAS */
       W(sf, S_REF) = CACHED_HEAD(me); assert(gl[sf] == CACHED(vi)); MOVE(sf, OUT(me)); ok = 1
     }
#else
     d_step {                             /* stealRun: Atomics.compareExchange(r.i32, w, want, cachedHead(me, k)) */
       if
       :: W(sf, S_REF) == CACHED_HEAD(vi) ->
          W(sf, S_REF) = CACHED_HEAD(me);
          assert(gl[sf] == CACHED(vi) || (gl[sf] == OUT(vi) && killed[vi]));   /* cached by vi, or won by vi's own steal before it died */
          MOVE(sf, OUT(me)); ok = 1
       :: else -> ok = 0
       fi
     }
#endif
#ifdef BROKEN_STEAL_CAS_BEFORE_JOURNAL
     if
     :: ok -> d_step { n = ajCount[me]; AJ(me, n) = sf; AJN(me, n) = 1; ajCount[me] = n + 1 }   /* BROKEN: appendRun after the CAS */
     :: else
     fi;
#else
     if
     :: !ok -> ajCount[me] = n            /* stealRun: truncateRuns(r, count): the victim's pop won */
     :: else
     fi;
#endif
     ok = 0; n = 0
  :: else                                 /* stealRun: the run left the victim's cache since */
  fi
}

/* stealCaches(): every run the other workers cache; sn: the frames stolen. */
inline stealCaches() {
  atomic {                                /* stealCaches: lockAllocator(r) */
    lockw == 0 -> lockw = MY_TOKEN;
#ifdef NOMEM_CHECK
    inWin = inWin | (1 << me); fx = 0;    /* (ghost) the NoMemory window opens: the frames in others' hands now are touched */
    do
    :: fx < NF ->
       if
       :: gl[fx] >= 8 && (gl[fx] & 7) != me -> touch[fx] = touch[fx] | (1 << me)
       :: else -> touch[fx] = touch[fx] & ~(1 << me)
       fi;
       fx++
    :: else -> break
    od;
    fx = 0
#endif
  }
  vi = 1;
  do
  :: vi <= NW && vi != me ->              /* stealCaches: forEachStealable(r, id, ...): every entry of its stack */
     e = 1;
     do
     :: e <= CAP ->
        sf = ENT(vi, e);                  /* forEachCachedEntry: index = i32[base + e] */
        if
        :: W(sf, S_REF) == CACHED_HEAD(vi) -> stealRun()   /* forEachCachedEntry: Atomics.load(i32, slotWord(r, index)) === want */
        :: else
        fi;
        sf = 0; e++
     :: else -> break
     od;
     e = 0; vi++
  :: vi == me -> vi++
  :: vi > NW -> break
  od;
  vi = 0;
  if
  :: ajCount[me] > 0 ->                   /* stealCaches: settle() */
     k = 0; m = 0;
     do
     :: k < ajCount[me] ->
        W(AJ(me, k), S_OWNER) = me;       /* settleStolen: ownFrames(r, index, k) */
        W(AJ(me, k), S_REF) = RC_UNUSED;  /* settleStolen: Atomics.store(r.i32, slotWord(r, index), RC_UNUSED) */
        m = m | (1 << AJ(me, k)); k++
     :: else -> break
     od;
     freeRunsLocked(m, me);               /* stealCaches: settle(): this.buddy.freeRunsLocked(runs) */
     sn = k; k = 0; m = 0;
     ajCount[me] = 0                      /* stealCaches: settle(): clearRuns(r) */
  :: else
  fi;
  UNLOCK()                                /* stealCaches: unlockAllocator(r) */
}

/* fromBuddy(1, 1): the buddy, then (drainCaches, stealCaches) before NoMemory; f = NONE: null. */
inline fromBuddy() {
  buddyAlloc(f, 1, 0);                    /* fromBuddy: allocJournaled(nframes, alignFrames, journal) */
  if
  :: f == NONE ->
     /* fromBuddy: drainCaches() finds this worker's count 0 (popOne left it so): 0, no retry */
     stealCaches();
#ifndef BROKEN_NOMEM_NO_RETRY
     buddyAlloc(f, 1, 0);                 /* fromBuddy: allocJournaled again after the steal, whatever it stole */
#else
     if
     :: sn > 0 -> buddyAlloc(f, 1, 0)     /* BROKEN (F4): again only if stealCaches() > 0 */
     :: else                              /* BROKEN (F4): nothing stolen: null */
     fi;
#endif
     sn = 0;
#ifdef NOMEM_CHECK
     d_step {                             /* fromBuddy: the answer (NoMemory if f is NONE) */
       fx = 0;
       do
       :: fx < NF ->
          if :: f == NONE -> assert(gl[fx] >= 8 || (touch[fx] & (1 << me)) != 0) :: else fi;   /* (ghost) NoMemory only if no frame was free all along since the steal began */
          touch[fx] = touch[fx] & ~(1 << me); fx++
       :: else -> break
       od;
       inWin = inWin & ~(1 << me); fx = 0
     }
#endif
     skip
  :: else
  fi
}

/* alloc(1, 1): popOne, else take: refill, else fromBuddy; then clearOp. */
inline alloc() {
  popOne();                               /* alloc: this.popOne() */
  if
  :: f == NONE ->
     /* take: popOne and pop's popCached find the count 0 that popOne left (only this worker writes it) */
     refill();                            /* pop: this.refill(k) */
     if :: f == NONE -> fromBuddy() :: else fi   /* take: this.fromBuddy(nframes, alignFrames) */
  :: else
  fi;
  d_step {                                /* alloc: clearOp (raw frames are the caller's) */
    opStart[me] = 0; opKind[me] = 0;
    if
    :: f != NONE -> hf[j] = f + 1; assert(gl[f] == OUT(me)); MOVE(f, HELD(me))
    :: else
    fi;
    f = 0; j = 0
  }
}

proctype Worker(byte me) {
  byte hf[H];
  byte ops, nh, c, e, f, i, j, k, m, n, nx, pv, bd, ord, ci, co, ii, nn, fx, rn, vi, sf, sn;
  bit ok;
  ops = (me == V -> OPS_V : OPS);
  nh = (me == V -> HANDS_V : HANDS);
  if :: me == OWNER0 -> hf[0] = 2 :: else fi;   /* OWNER0's caller holds frame 1 */
  {
    do
    :: ops > 0 && (hf[0] == 0 || hf[1] == 0 || (nh > 2 && hf[2] == 0)) ->   /* alloc(1) */
       ops--;
       if :: hf[0] == 0 -> j = 0 :: hf[0] != 0 && hf[1] == 0 -> j = 1 :: else -> j = 2 fi;
       alloc()
    :: ops > 0 && (hf[0] != 0 || hf[1] != 0 || hf[2] != 0) ->   /* dealloc(paddr, 1) */
       ops--;
       if :: hf[0] != 0 -> i = 0 :: hf[0] == 0 && hf[1] != 0 -> i = 1 :: else -> i = 2 fi;
       f = hf[i] - 1; hf[i] = 0;
       dealloc(f);
       f = 0; i = 0
#ifdef DRAIN_OP
    :: ops > 0 && me == V && cnt[me] > 0 ->   /* sys.drainCaches() */
       ops--;
       drainCaches()
#endif
    :: ops == 0 -> break
    od;
    i = 0;
    do
    :: i < H && hf[i] != 0 -> f = hf[i] - 1; hf[i] = 0; dealloc(f); f = 0; i++
    :: i < H && hf[i] == 0 -> i++
    :: i == H -> break
    od;
    atomic { finished[me] = 1; done++ }
  } unless {
    killed[me];                           /* the worker is gone: it stops at this step */
    atomic { gone[me] = 1; done++ }
  }
}

/* reclaim(sys, [V]) of src/workers/reclaim.ts, by whoever saw V exit. */
proctype Reclaimer() {
  byte me, f, k, s, e, c, m, nx, pv, bd, ord, ci, co, ii, nn, fx, rn;
  int rc;
  bit ok, mine, isfree;
  me = RECLAIMER;
  (gone[V] || finished[V]);
  if
  :: gone[V] ->
     /* 1. Locks: take the allocator lock over from V and rebuild the lists from the marks. */
     atomic {                             /* reclaim: Atomics.compareExchange(H_BUDDY_LOCK, token, ours) */
       if :: lockw == TOKEN(1, V) -> lockw = TOKEN(1, RECLAIMER); ok = 1 :: else -> ok = 0 fi
     }
     if
     :: ok ->
        d_step {                          /* reclaim: buddy.rebuildLocked() */
          c = 0; do :: c < MAXO -> heads[c] = 0; c++ :: else -> break od;
          bfree = 0; f = 0;
          do
          :: f < NF && (W(f, S_AUX) & AUX_FREE) == 0 -> f++
          :: f < NF && (W(f, S_AUX) & AUX_FREE) != 0 ->
             e = f;
             do
             :: e < NF && (W(e, S_AUX) & AUX_FREE) != 0 ->
                W(e, S_AUX) = AUX_FREE; W(e, S_NEXT) = 0; W(e, S_PREV) = 0; e++
             :: else -> break
             od;
             ii = f; nn = e - f; insertRun(ii, nn);
             bfree = bfree + (e - f); f = e
          :: f == NF -> break
          od;
          c = 0; f = 0; e = 0; ii = 0; nn = 0
        }
        lockw = 0; ok = 0                 /* reclaim: unlock(H_BUDDY_LOCK) */
     :: else
     fi;
#ifndef BROKEN_RECLAIM_OUTSIDE_LOCK
     LOCK();                              /* reclaim: lockWithin(H_BUDDY_LOCK, token, wait) */
#endif
     /* 2. reclaimFramesLocked: V's caches, every entry (counted or not) whose head says V's.
      * One step: V is dead and the lock is held, so nothing else writes what it reads and
      * writes (only V marks a head CACHED(V); only a lock holder or V takes it). */
     d_step {                             /* takeCachedRunsOf: takeCachedRun for each entry whose head is cachedHead(id, k) */
       m = 0; e = 1;
#ifdef BROKEN_RECLAIM_COUNTED_ONLY
       c = cnt[V];                        /* BROKEN: the entries under the count only */
#else
       c = CAP;                           /* forEachCachedEntry(r, id, true): every entry the stack has room for */
#endif
       do
       :: e <= c ->
          f = ENT(V, e);
          if
          :: W(f, S_REF) == CACHED_HEAD(V) ->   /* takeCachedRun: CAS to RC_UNUSED, S_OWNER = id */
             W(f, S_REF) = RC_UNUSED; W(f, S_OWNER) = V;
             assert(gl[f] == CACHED(V) || gl[f] == OUT(V));   /* cached by V, or stolen by V (its CAS won) */
             MOVE(f, OUT(V)); m = m | (1 << f)
          :: else
          fi;
          e++
       :: else -> break
       od;
       e = 0; c = 0; f = 0
     }
     /* ... and what the journals name: the operation entry, then the allocator runs, frame by
      * frame (V's record is stable: choosing the next frame is folded into the load). */
     k = 0; s = 0;
     do
     :: d_step {                          /* reclaimJournaled: Atomics.load(i32, w) (countOf) of the next frame journalOf(r, rec) names */
          do
          :: s == 0 && k == 0 -> k++; if :: opStart[V] != 0 -> f = opStart[V] - 1; s = 1 :: else fi
          :: s == 0 && k > 0 && k <= ajCount[V] -> f = AJ(V, k - 1); s = AJN(V, k - 1); k++
          :: else -> break
          od;
          if :: s > 0 -> rc = W(f, S_REF) :: else -> rc = 0 fi
        }
        if
        :: s == 0 -> break
        :: s > 0 && rc == CACHED_HEAD(V) ->   /* reclaimJournaled: isCachedHead(rc), cachedWorker(rc) === id: journaled before its CAS */
           d_step {                       /* takeCachedRun: Atomics.compareExchange(.., want, RC_UNUSED) */
             if
             :: W(f, S_REF) == CACHED_HEAD(V) -> W(f, S_REF) = RC_UNUSED; assert(gl[f] == CACHED(V) || gl[f] == OUT(V)); MOVE(f, OUT(V)); ok = 1
             :: else -> ok = 0
             fi
           }
           if
           :: ok -> W(f, S_OWNER) = V; m = m | (1 << f)   /* takeCachedRun: S_OWNER = id; toFree.add(g) */
           :: else
           fi;
           ok = 0
        :: s > 0 && rc != CACHED_HEAD(V) && rc != RC_UNUSED ->   /* reclaimJournaled: another worker's cached head: skipped */
           assert(rc == CACHED_HEAD(1) || rc == CACHED_HEAD(2) || rc == CACHED_HEAD(3))
        :: s > 0 && rc == RC_UNUSED ->
           mine = (W(f, S_OWNER) == V);   /* reclaimJournaled: ownerOf(w) === id */
           if
           :: mine ->                     /* reclaimJournaled: UNUSED and mine (kind is OP_OWNED) */
#ifdef BROKEN_RECLAIM_NO_FREE_CHECK
              isfree = 0;
#else
              isfree = ((W(f, S_AUX) & AUX_FREE) != 0);   /* reclaimJournaled: !isFree(r, f) */
#endif
              if
              :: !isfree -> m = m | (1 << f)   /* reclaimJournaled: toFree.add(f) */
              :: else
              fi
           :: else
           fi
        fi;
        rc = 0; mine = 0; isfree = 0;
        f++; s--
     od;
     k = 0;
     /* buddy.freeRunsLocked(toFree), then the record: caches and journals emptied, then the id
      * is free. One step: the reclaimer holds the lock and does not die, and no lock-free step
      * of a live worker reads or writes what it writes (the marks and links of frames that were
      * V's, the lists' heads and count, V's record). */
#ifndef BROKEN_RECLAIM_OUTSIDE_LOCK
     d_step {                             /* reclaimFramesLocked: buddy.freeRunsLocked(runs), reclaimRecord: i32[rec + k] = 0 */
       freeRunsAtOnce(m, V);              /* freeRunsLocked(m, V) */
#else
     if :: m != 0 -> LOCK(); d_step { freeRunsAtOnce(m, V) }; UNLOCK() :: else fi;   /* BROKEN: buddy.freeRuns after the judging */
     d_step {                             /* reclaimRecord: i32[rec + k] = 0 */
#endif
       cnt[V] = 0; opStart[V] = 0; opKind[V] = 0; ajCount[V] = 0;
       e = 1; do :: e <= CAP -> ENT(V, e) = 0; e++ :: else -> break od;
       e = 0; do :: e < AJM -> AJ(V, e) = 0; AJN(V, e) = 0; e++ :: else -> break od;
       e = 0; f = 0; k = 0; m = 0
     }
     wstate[V] = WORKER_FREE;             /* reclaimRecord: Atomics.store(W_STATE, WORKER_FREE) */
#ifndef BROKEN_RECLAIM_OUTSIDE_LOCK
     UNLOCK()                             /* reclaim: unlock(H_BUDDY_LOCK) */
#else
     skip
#endif
  :: else
  fi;
  reclaimed = 1
}

active proctype Killer() {
#ifndef NO_DEATH
  if
  :: killed[V] = 1                        /* V dies (terminated, or a crash) */
  :: skip
  fi
#else
  skip
#endif
}

init {
  byte f, w, o, e, n, lo;
  bit named;
  atomic {
    f = 0;
    do
    :: f < NF -> W(f, S_REF) = RC_UNUSED; f++
    :: f == NF -> break
    od;
    /* frame 0: a free chunk of order 0; frames 2, 3: OWNER0's cache; frame 1: held by OWNER0 */
    W(0, S_AUX) = HEAD_AUX(0); heads[0] = 1; bfree = 1; gl[0] = BUDDY;
    W(1, S_OWNER) = OWNER0; gl[1] = HELD(OWNER0);
    W(2, S_OWNER) = OWNER0; W(3, S_OWNER) = OWNER0;
    W(2, S_REF) = CACHED_HEAD(OWNER0); W(3, S_REF) = CACHED_HEAD(OWNER0);
    cnt[OWNER0] = 2; ENT(OWNER0, 1) = 3; ENT(OWNER0, 2) = 2; gl[2] = CACHED(OWNER0); gl[3] = CACHED(OWNER0);
#ifdef THIEF_V
    ENT(V, 1) = 3;                        /* a stale entry of V: V cached frame 3 once */
#endif
    w = 1;
    do
    :: w <= NW -> wstate[w] = WORKER_ATTACHED; run Worker(w); w++
    :: w > NW -> break
    od;
    run Reclaimer();
    w = 0; f = 0
  }
  done == NW;
  reclaimed;
  /* After reclaimWorker no free frame is lost: each frame is in exactly one place (a buddy
   * chunk, a live worker's cache, or the hands of the dead worker), the lists are whole and
   * the free count matches them; a frame is marked cached exactly when a live worker's stack
   * counts it, and every journal of a worker that finished is empty. */
  d_step {
    n = 0; o = 0;
    do
    :: o < MAXO ->
       e = heads[o];
       do
       :: e != 0 ->
          assert(W(e - 1, S_AUX) == HEAD_AUX(o));
          lo = 0;
          do
          :: lo < (1 << o) ->
             assert(gl[e - 1 + lo] == BUDDY); assert((W(e - 1 + lo, S_AUX) & AUX_FREE) != 0);
             assert(W(e - 1 + lo, S_REF) == RC_UNUSED);
             gl[e - 1 + lo] = 100; n++; lo++
          :: else -> break
          od;
          e = W(e - 1, S_NEXT)
       :: else -> break
       od;
       o++
    :: else -> break
    od;
    assert(n == bfree);
    f = 0;
    do
    :: f < NF ->
       assert(gl[f] == 100 ||
              (gl[f] >= CACHED(1) && gl[f] <= CACHED(NW) && !(gl[f] == CACHED(V) && gone[V])) ||
              (gl[f] == HELD(V) && gone[V]));   /* no free frame is lost */
       if
       :: gl[f] >= CACHED(1) && gl[f] <= CACHED(NW) ->
          named = 0; e = 1;
          do
          :: e <= cnt[gl[f]] -> if :: ENT(gl[f], e) == f -> named = 1 :: else fi; e++
          :: else -> break
          od;
          assert(W(f, S_REF) == CACHED_HEAD(gl[f]) && named)   /* a cached frame: marked so, and counted by its stack */
       :: else -> assert(W(f, S_REF) == RC_UNUSED)             /* any other frame: not marked cached */
       fi;
       f++
    :: f == NF -> break
    od;
    w = 1;
    do
    :: w <= NW -> assert(!finished[w] || (opStart[w] == 0 && ajCount[w] == 0)); w++
    :: else -> break
    od
  }
}
