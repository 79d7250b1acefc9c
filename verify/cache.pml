/*
 * Model (b): the per-worker caches of src/frame-allocator/cache.ts in front of the buddy
 * allocator of src/frame-allocator/buddy.ts, their journals (src/region/journal.ts), the words of both (src/region/free-lists.ts,
 * src/region/workers.ts), the shared lock with
 * its owner record (src/shm/lock.ts), and reclaimWorker (src/workers/reclaim.ts) when worker V
 * dies at any step.
 *
 * NF = 4 frames, orders 0..2 (the buddy code's split and merge, for real), one cache class
 * (k = 1) whose capacity is scaled down from CACHE_CAPACITY[1] so that the refill and flush
 * paths are reachable with 4 frames (the code's formulas are kept: refill takes CAP >> 1 runs,
 * a flush gives back the new run and the top CAP >> 1 - 1 runs). Frames handed out stay raw
 * (their counts stay UNUSED); slot.pml models what happens to a frame between allocator visits.
 *
 * Atomic operations are one step each, plain reads and writes of shared words one step each,
 * except that a journal entry (recordOp, recordRun(s), clearOp) is one step: its words are
 * written so that the entry is invalid until the last one, which is what makes it atomic for
 * its only reader, reclaim (which reads it after the worker died);
 * the list surgery of one buddy push / unlink / insertChunk / allocChunk is one step (it runs
 * under the lock; the only lock-free observer, reclaim, reads S_PREV and S_AUX, whose
 * intermediate values inside it are covered by the values at its ends).
 *
 * Initial state (a reachable one, after V took frames 1..3 and gave 2 and 3 back): frame 0 free
 * in the buddy allocator, frames 2 and 3 in V's cache (full), frame 1 held by V; the other
 * workers have nothing.
 *
 * Ghost gl[f]: where frame f is: BUDDY, CACHED(w), OUT(w) (on its way, in an operation of w
 * that its journals name) or HELD(w) (handed to w's caller: a raw frame). Every move asserts
 * where the frame comes from, so a frame handed out twice, freed twice or freed by someone who
 * does not own it fails an assertion; and at the end a frame may be out of the allocator only
 * in the hands of the dead worker's caller (lost by design: nobody knows it), never OUT.
 *
 * fromBuddy's way to NoMemory is modelled: drainCaches (this worker's cached frames back to
 * the buddy), requestDrains (W_DRAIN set on workers with cached frames), one more try (the code
 * polls for DRAIN_WAIT_MS); and serveDrain at the start of take and give.
 *
 * Broken variants:
 *   BROKEN_LOCK_NO_OWNER     the lock word says "held" (1), not who holds it -> deadlock
 *   BROKEN_POP_BEFORE_JOURNAL pop leaves the stack before the journal names the frame -> lost
 *   BROKEN_EARLY_CLEAR_RUNS  freeOwnRuns clears the journal before marking frames free -> lost
 *   BROKEN_RECLAIM_NO_FREE_CHECK reclaim frees journaled frames without the AUX_FREE check -> double free
 *   BROKEN_RECLAIM_OUTSIDE_LOCK  reclaim judges the journaled frames without the allocator lock and
 *                                frees them in a second lock hold, as before the fix of finding F2
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
#define OPS 3            /* operations of each live worker (alloc or dealloc) */
#endif
#ifndef OPS_V
#define OPS_V 2          /* operations of worker V, the one that may die */
#endif
#define NF 4
#define MAXO 3           /* orders 0..2 (the code: MAX_ORDER = 21) */
#define CACHE_CAPACITY_1 32   /* region/workers.ts CACHE_CAPACITY[1] */
#define CAP 2                 /* the model's capacity of class 1 (scaled down) */
#define AUX_HEAD 536870912    /* region/meta.ts AUX_HEAD (0x2000_0000) */
#define V NW
#define RECLAIMER (NW + 1)
#define NONE 255
#define H 2

#define BUDDY 0
#define CACHED(w) (w)
#define OUT(w) (8 + (w))
#define HELD(w) (16 + (w))

int slot[NF * SLOT_HDR];
byte heads[MAXO];        /* H_BUDDY_HEADS: index + 1 of the first chunk of each order */
byte bfree;              /* H_BUDDY_FREE */
byte lockw;              /* H_BUDDY_LOCK: the holder's token (small here: gen 1) */

/* Worker records: the class-1 cache (count, entries 1..CAP), the operation journal, the
 * allocator journal (one run of one frame is all this model's paths record). */
byte cnt[NW + 2];
byte ent[(NW + 2) * (CAP + 1)];
byte opStart[NW + 2];
byte opKind[NW + 2];
byte ajCount[NW + 2];
byte ajRun[(NW + 2) * CAP];  /* W_AJ_RUNS: [index, n] with n = 1 here (AJ_MAX_RUNS = 20 >= CAP) */
#define AJ(w, r) ajRun[(w) * CAP + (r)]
bit wstate[NW + 2];      /* W_STATE: attached */
bit wdrain[NW + 2];      /* W_DRAIN: another worker asked for the cached frames */

byte gl[NF];             /* ghost: where the frame is */
bit killed[NW + 1];
bit gone[NW + 1];
bit finished[NW + 1];
bit reclaimed;
byte done;

#define ENT(w, e) ent[(w) * (CAP + 1) + (e)]
#define HEAD_AUX(o) (AUX_FREE | AUX_HEAD | (o))
#define MAX_ORDER_FROM(i) ((i) == 0 -> MAXO - 1 : (((i) & 1) -> 0 : (((i) & 2) -> 1 : 2)))
#define LESSER_ORDER_OF(n) ((n) >= 4 -> 2 : ((n) >= 2 -> 1 : 0))

#ifdef BROKEN_LOCK_NO_OWNER
#define MY_TOKEN 1
#else
#define MY_TOKEN TOKEN(1, me)   /* gen 1: no worker re-attaches in this model */
#endif

/* ---- lock.ts ------------------------------------------------------------------------------ */
/* lock: CAS 0 -> token; while held, lockSlow spins and sleeps with a timeout and tries again,
 * which is this blocking guard. */
inline LOCK() { atomic { lockw == 0 -> lockw = MY_TOKEN } }
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
inline allocChunk0(r_) {                  /* allocChunk(0): unlink, split down to order 0 */
  co = 0;
  do :: co < MAXO && heads[co] == 0 -> co++ :: else -> break od;
  if
  :: co == MAXO -> r_ = NONE
  :: else ->
     r_ = heads[co] - 1; bunlink(r_, co);
     do :: co > 0 -> co--; bpush(r_ + (1 << co), co) :: else -> break od
  fi;
  co = 0
}

/* buddy.allocJournaled(1, 1, journal): frame r_ (NONE if none). `refill` says which journal. */
inline buddyAlloc(r_, refill) {
  LOCK();
  d_step { allocChunk0(r_) }              /* allocChunk(order) */
  if
  :: r_ == NONE -> UNLOCK()
  :: else ->
     if                                   /* journal?.(index, nframes) */
     :: refill -> d_step { AJ(me, 0) = r_; ajCount[me] = 1 }   /* recordRun (refill) */
     :: else -> d_step { opKind[me] = OP_OWNED; opStart[me] = r_ + 1 }   /* recordOp (fromBuddy) */
     fi;
     W(r_, S_PREV) = me;                  /* allocJournaled: S_OWNER first */
     W(r_, S_NEXT) = 0;
     d_step {                             /* allocJournaled: S_AUX = 0, no longer free */
       W(r_, S_AUX) = 0;
       assert(gl[r_] == BUDDY);           /* a frame is never handed out twice */
       gl[r_] = OUT(me)
     }
     bfree--;                             /* H_BUDDY_FREE -= nframes */
     UNLOCK()
  fi
}

/* buddy.freeRunsLocked(runs): the frames of bitmask m_ (runs of one frame), lock held. */
inline freeRunsLocked(m_, owner) {
  fx = 0;
  do                                      /* freeRunsLocked: S_AUX = AUX_FREE for every frame first */
  :: fx < NF && (m_ & (1 << fx)) ->
     d_step {
       assert(gl[fx] == OUT(owner));      /* no double free, and only by the frame's owner */
       W(fx, S_AUX) = AUX_FREE; gl[fx] = BUDDY
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
/* buddy.freeRuns(runs, done): lock, freeRunsLocked, done?.(), unlock; `clear` means done = clearRuns. */
inline freeRuns(m_, owner, clear) {
  LOCK();                                 /* freeOwnRuns: lockAllocator */
#ifdef BROKEN_EARLY_CLEAR_RUNS
  if :: clear -> ajCount[me] = 0 :: else fi;   /* BROKEN: the journal cleared first */
#endif
  freeRunsLocked(m_, owner);
#ifndef BROKEN_EARLY_CLEAR_RUNS
  if :: clear -> ajCount[me] = 0 :: else fi;   /* done?.(): clearRuns, before the unlock */
#endif
  UNLOCK()
}

/* ---- cache.ts ----------------------------------------------------------------------------- */
/* drainCaches(): every cached frame back to the buddy (m: the frames moved). */
inline drainCaches() {
  c = cnt[me];                            /* while (i32[base] > 0) */
  if
  :: c > 0 ->
     d_step {                             /* recordRuns(runs): the cached runs, then their count */
       m = 0; e = 1;
       do
       :: e <= c -> AJ(me, e - 1) = ENT(me, e); m = m | (1 << ENT(me, e)); e++
       :: else -> break
       od;
       ajCount[me] = c; e = 0
     }
     d_step {                             /* i32[base] = count - take */
       cnt[me] = 0; e = 1;
       do
       :: e <= c -> assert(gl[ENT(me, e)] == CACHED(me)); gl[ENT(me, e)] = OUT(me); e++
       :: else -> break
       od;
       e = 0
     }
     freeRuns(m, me, 1)                   /* freeOwnRuns(runs) */
  :: else -> m = 0
  fi;
  c = 0
}

/* requestDrains(): W_DRAIN on every other attached worker with cached frames (m: any asked). */
inline requestDrains() {
  m = 0; e = 1;
  do
  :: e <= NW && e != me ->
     if
     :: wstate[e] == WORKER_ATTACHED && cnt[e] > 0 ->   /* W_STATE, cachedFrames(id) */
        wdrain[e] = 1; m = 1                            /* Atomics.store(W_DRAIN, 1) */
     :: else
     fi;
     e++
  :: e == me -> e++
  :: e > NW -> break
  od;
  e = 0
}
/* serveDrain at the start of take and give. */
inline serveDrain() {
  if
  :: wdrain[me] ->
     wdrain[me] = 0;                      /* Atomics.store(W_DRAIN, 0) */
     drainCaches(); m = 0
  :: else
  fi
}

/* take(1) -> pop(1) (-> refill(1)) -> fromBuddy(1). Result in f; ok = 0: NoMemory. */
inline take() {
  serveDrain();
  c = cnt[me];                            /* pop: count = i32[base] (own record: a local read) */
  if
  :: c > 0 ->
     f = ENT(me, c);                      /* pop: index = i32[base + count] */
#ifdef BROKEN_POP_BEFORE_JOURNAL
     d_step { cnt[me] = c - 1; assert(gl[f] == CACHED(me)); gl[f] = OUT(me) }
     d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }
     W(f, S_OWNER) = me;
#else
     d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }   /* pop: recordOp(OP_OWNED) */
     W(f, S_OWNER) = me;                  /* pop: own() */
     d_step {                             /* pop: i32[base] = count - 1 */
       cnt[me] = c - 1; assert(gl[f] == CACHED(me)); gl[f] = OUT(me)
     }
#endif
     ok = 1
  :: else ->                              /* refill(1): CAP >> 1 runs from the buddy */
     buddyAlloc(f, 1);
     if
     :: f != NONE ->
        cnt[me] = (CAP >> 1) - 1;         /* refill: i32[base] = runs - 1 (no other run here) */
        d_step { opKind[me] = OP_OWNED; opStart[me] = f + 1 }   /* refill: recordOp(OP_OWNED, first) */
        ajCount[me] = 0;                  /* refill: clearRuns */
        ok = 1
     :: else ->                           /* fromBuddy(1) */
        buddyAlloc(f, 0);
        if
        :: f == NONE ->
           drainCaches();                 /* before NoMemory: this worker's cached frames */
           if
           :: m != 0 -> m = 0; buddyAlloc(f, 0)
           :: else ->
              requestDrains();            /* then the other workers' */
              if :: m != 0 -> m = 0; buddyAlloc(f, 0) :: else fi   /* poll until DRAIN_WAIT_MS */
           fi
        :: else
        fi;
        ok = (f != NONE)
     fi
  fi;
  c = 0
}

/* dealloc(paddr, 1): recordOp, own, give -> push (a full cache flushes to the buddy). */
inline dealloc(fr) {
  d_step {                                /* dealloc: recordOp(OP_OWNED) */
    opKind[me] = OP_OWNED; opStart[me] = fr + 1;
    assert(gl[fr] == HELD(me)); gl[fr] = OUT(me)
  }
  W(fr, S_OWNER) = me;                    /* dealloc: own() */
  serveDrain();                           /* give: W_DRAIN */
  c = cnt[me];                            /* push: count = i32[base] */
  if
  :: c < CAP ->
     ENT(me, c + 1) = fr;                 /* push: i32[base + count + 1] = index */
     d_step {                             /* push: i32[base] = count + 1 */
       cnt[me] = c + 1; assert(gl[fr] == OUT(me)); gl[fr] = CACHED(me)
     }
  :: else ->                              /* push: flush the new run (+ CAP >> 1 - 1 others: none) */
     d_step { AJ(me, 0) = fr; ajCount[me] = 1 }   /* recordRuns: the runs, then their count */
     cnt[me] = c - ((CAP >> 1) - 1);      /* push: i32[base] = count - (flush - 1) */
     m = 1 << fr;
     freeRuns(m, me, 1);                  /* freeOwnRuns(runs) */
     m = 0
  fi;
  d_step { opStart[me] = 0; opKind[me] = 0; c = 0 }   /* clearOp */
}

proctype Worker(byte me) {
  byte hf[H];
  byte ops, c, e, f, i, j, m, nx, pv, bd, ord, ci, co, ii, nn, fx, rn;
  bit ok;
  ops = (me == V -> OPS_V : OPS);
  if :: me == V -> hf[0] = 2 :: else fi;  /* V holds frame 1 */
  {
    do
    :: ops > 0 && (hf[0] == 0 || hf[1] == 0) ->   /* alloc(1) */
       ops--;
       if :: hf[0] == 0 -> j = 0 :: else -> j = 1 fi;
       take();
       d_step {                           /* alloc: clearOp (raw frames are the caller's) */
         opStart[me] = 0; opKind[me] = 0;
         if
         :: ok -> hf[j] = f + 1; assert(gl[f] == OUT(me)); gl[f] = HELD(me)
         :: else
         fi;
         ok = 0; f = 0; j = 0
       }
    :: ops > 0 && (hf[0] != 0 || hf[1] != 0) ->   /* dealloc(paddr, 1) */
       ops--;
       if :: hf[0] != 0 -> i = 0 :: hf[1] != 0 -> i = 1 fi;
       f = hf[i] - 1; hf[i] = 0;
       dealloc(f);
       f = 0; i = 0
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
    killed[me];
    atomic { gone[me] = 1; done++ }
  }
}

/* reclaim(sys, [V]) of src/workers/reclaim.ts, by whoever saw V exit. */
proctype Reclaimer() {
  byte me, f, k, s, e, c, m, cm, nx, pv, bd, ord, ci, co, ii, nn, fx, rn;
  int rc;
  bit ok, mine, cached;
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
     /* 2. reclaimFramesLocked: the cached runs (V's record is stable) ... */
     d_step {                             /* reclaimFramesLocked: cacheRuns */
       cm = 0; e = 1;
       do
       :: e <= cnt[V] -> assert(gl[ENT(V, e)] == CACHED(V)); gl[ENT(V, e)] = OUT(V); cm = cm | (1 << ENT(V, e)); e++
       :: else -> break
       od;
       e = 0
     }
     /* ... and what the journals name: the operation entry, then the allocator runs. */
     k = 0;
     do
     :: k <= CAP ->
        d_step {
          if
          :: k == 0 && opStart[V] != 0 -> f = opStart[V] - 1; s = 1
          :: k > 0 && k <= ajCount[V] -> f = AJ(V, k - 1); s = 1
          :: else -> s = 0
          fi
        }
        if
        :: s ->
           rc = W(f, S_REF);              /* reclaimJournaled: Atomics.load(i32, w) (countOf) */
           mine = (W(f, S_OWNER) == V);   /* reclaimJournaled: ownerOf(w) === id */
           if
           :: rc == RC_UNUSED && mine ->  /* reclaimJournaled: UNUSED and mine (kind is OP_OWNED) */
#ifdef BROKEN_RECLAIM_NO_FREE_CHECK
              cached = ((cm & (1 << f)) != 0);
#else
              d_step {                    /* reclaimJournaled: (S_AUX & AUX_FREE) === 0 && !cached.has(f) */
                cached = ((W(f, S_AUX) & AUX_FREE) != 0 || (cm & (1 << f)) != 0)
              }
#endif
              if
              :: !cached -> m = m | (1 << f)   /* reclaimJournaled: toFree.add(f) */
              :: else
              fi
           :: else
           fi;
           rc = 0; mine = 0; cached = 0; s = 0
        :: else
        fi;
        k++
     :: else -> break
     od;
     /* buddy.freeRunsLocked(cached runs + toFree) */
     m = m | cm;
#ifndef BROKEN_RECLAIM_OUTSIDE_LOCK
     freeRunsLocked(m, V);
#else
     if :: m != 0 -> freeRuns(m, V, 0) :: else fi;   /* BROKEN: freed in a second lock hold after the judging */
#endif
     /* The record: caches and journals emptied, then the id is free. */
     d_step { cnt[V] = 0; opStart[V] = 0; opKind[V] = 0; ajCount[V] = 0; e = 0; f = 0; k = 0; m = 0; cm = 0 }
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
  if
  :: killed[V] = 1
  :: skip
  fi
}

init {
  byte f, w, o, e, n, lo;
  atomic {
    f = 0;
    do
    :: f < NF -> W(f, S_REF) = RC_UNUSED; f++
    :: f == NF -> break
    od;
    /* frame 0: a free chunk of order 0; frames 2, 3: V's cache; frame 1: held by V */
    W(0, S_AUX) = HEAD_AUX(0); heads[0] = 1; bfree = 1; gl[0] = BUDDY;
    W(1, S_OWNER) = V; gl[1] = HELD(V);
    W(2, S_OWNER) = V; W(3, S_OWNER) = V;
    cnt[V] = 2; ENT(V, 1) = 3; ENT(V, 2) = 2; gl[2] = CACHED(V); gl[3] = CACHED(V);
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
   * the free count matches them. */
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
          :: lo < (1 << o) -> assert(gl[e - 1 + lo] == BUDDY); assert((W(e - 1 + lo, S_AUX) & AUX_FREE) != 0); gl[e - 1 + lo] = 100; n++; lo++
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
       f++
    :: f == NF -> break
    od
  }
}
