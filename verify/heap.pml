/*
 * The heap's per-worker caches of free slots (src/region/heap.ts cachePush, cachePop,
 * cacheTakeAll; the policy in src/heap/cache.ts and src/heap/slab.ts): a block freed in another
 * worker than its allocator's, and the whole-stack take of a steal before NoMemory
 * (stealCaches) and of reclaimWorker (takeCachesOf).
 *
 * NS slots; each worker w has a stack (head[w]: its top slot + 1, 0 when empty) linked through
 * the free slots' first words (link[s]). The ghost where[s] says where slot s is: in the slab
 * pool (POOL), on worker w's stack (w), or held by worker w's user (HELD + w).
 *
 * Processes (worker 1 and worker 2, OPS operations each, any order):
 *   alloc   cachePop from its own stack (one CAS of the head); an empty stack is refilled from
 *           the pool under the heap lock (refill: the slot taken from its slab, then cachePush);
 *   free    any held block, whichever worker's user held it (a cross-worker free: the block is
 *           handed over), onto its own stack with cachePush (the links written, then one CAS);
 *   steal   the other worker's whole stack with one exchange to 0 (cacheTakeAll), then every
 *           slot on it back to the pool under the heap lock (giveBack).
 *   With DEATH, worker 2 may die at any step; the Reclaimer then takes its stack (cacheTakeAll)
 *   and gives it back, as reclaimWorker does (a slot it held, or was pushing or had popped, is
 *   lost with it: a user's block).
 *
 * Properties:
 *   safety  a pop takes only a slot its stack holds (no slot handed out twice); a take walks only
 *           slots the victim's stack holds;
 *   final   each stack holds exactly the slots whose ghost says so, each once (no slot lost from
 *           a stack, none on two).
 *
 * Broken variants (each must fail):
 *   BROKEN_PLAIN_PUSH   the push stores the head instead of its CAS: a steal between the load and
 *                       the store is undone, the stolen slots reachable from both
 *   BROKEN_POP_NO_CAS   the pop stores the head instead of its CAS: a slot stolen meanwhile is
 *                       also popped
 */
#include "common.pml"

#ifndef NS
#define NS 3
#endif
#ifndef OPS
#define OPS 3
#endif
#define POOL 0
#define HELD 10
#define TRANSIT 20

byte head[3];                   /* region/heap.ts cacheWord(w, c): top slot + 1, 0 when empty */
byte link[NS];                  /* a free slot's first word: the next slot + 1 */
byte where[NS];                 /* ghost: POOL, w (on w's stack), HELD + w (w's user holds it),
                                   TRANSIT + w (taken by w's cacheTakeAll, on its way back) */
byte lk = 0;                    /* the heap lock: holder's pid + 1 */
byte finished = 0;
bit dead2 = 0;

inline lockHeap(me) {
  atomic { lk == 0 -> lk = me + 1 }
}

inline unlockHeap() {
  lk = 0
}

/* cachePush(r, at, w): slot s (held by me) onto my stack. */
inline cachePush(me, s) {
  pushed = 0;
  do
  :: pushed -> break
  :: else ->
     h = head[me];                              /* cachePush: const head = i32[at] */
     link[s] = h;                               /* cachePush: i32[w] = head */
#ifdef BROKEN_PLAIN_PUSH
     atomic { head[me] = s + 1; where[s] = me; pushed = 1 }
#else
     atomic {                                   /* cachePush: Atomics.compareExchange(i32, at, head, w) */
       if
       :: head[me] == h -> head[me] = s + 1; where[s] = me; pushed = 1
       :: else
       fi
     }
#endif
  od
}

/* cachePop(r, at): my top slot, into my user's hands (got: slot + 1, 0 if empty). */
inline cachePop(me) {
  got = 0;
  do
  :: got != 0 -> break
  :: else ->
     h = head[me];                              /* cachePop: const head = i32[at] */
     if
     :: h == 0 -> break
     :: else
     fi;
     n = link[h - 1];                           /* cachePop: const next = i32[head] */
#ifdef BROKEN_POP_NO_CAS
     atomic { assert(where[h - 1] == me); head[me] = n; where[h - 1] = HELD + me; got = h }
#else
     atomic {                                   /* cachePop: Atomics.compareExchange(i32, at, head, next) */
       if
       :: head[me] == h -> assert(where[h - 1] == me); head[me] = n; where[h - 1] = HELD + me; got = h
       :: else
       fi
     }
#endif
  od
}

/* cacheTakeAll(r, at) of worker vi's stack, then giveBack of every slot on it (takeCachesOf). */
inline takeAll(me, vi) {
  atomic {                                      /* cacheTakeAll: Atomics.exchange(r.i32, at, 0) */
    t = head[vi]; head[vi] = 0;
    k = 0; s = t;                               /* (ghost only: the slots taken are in transit) */
    do
    :: s != 0 && k < NS -> assert(where[s - 1] == vi); where[s - 1] = TRANSIT + me; s = link[s - 1]; k++
    :: else -> break
    od
  }
  lockHeap(me);                                 /* giveBack: lockHeap(r) */
  k = 0;
  do
  :: t != 0 && k < NS ->
     assert(where[t - 1] == TRANSIT + me);      /* a slot its take took, not popped since */
     where[t - 1] = POOL;                       /* putLocked: slabPush */
     t = link[t - 1];                           /* giveBack: slotNext(r, w) */
     k++
  :: else -> break
  od;
  unlockHeap()
}

#ifdef DEATH
#define DIES(me) (me == 2 && dead2)
#else
#define DIES(me) false
#endif

proctype Worker(byte me; byte other) {
  byte op = 0; byte h; byte n; byte got; byte t; byte k; byte s; bit pushed;
  {
  do
  :: op < OPS ->
     if
     :: true ->                                 /* alloc(size) */
        cachePop(me);
        if
        :: got == 0 ->                          /* refill: a slot from the pool, under the lock */
           lockHeap(me);
           s = 0;
           do
           :: s < NS && where[s] == POOL -> where[s] = TRANSIT + me; break   /* slabPop */
           :: s < NS && where[s] != POOL -> s++
           :: s >= NS -> break
           od;
           unlockHeap();
           if
           :: s < NS -> cachePush(me, s); cachePop(me)
           :: else                              /* NoMemory (a steal is the other branch) */
           fi
        :: else
        fi
     :: true ->                                 /* free(addr) of any held block */
        s = 0;
        do
        :: s < NS ->
           if
           :: atomic { where[s] >= HELD && where[s] < TRANSIT -> where[s] = TRANSIT + me }; cachePush(me, s); break
           :: s++
           fi
        :: else -> break
        od
     :: true -> takeAll(me, other)              /* stealCaches */
     fi;
     op++
  :: else -> break
  od
  } unless { DIES(me) };
  finished++
}

#ifdef DEATH
/* Worker 2 may stop at any step (a thread killed); then reclaimWorker(2): the heap lock released
 * if it held it (releaseHeapFrom), its stack taken whole and given back (takeCachesOf). */
proctype Reclaimer() {
  byte t; byte k; byte s;
  if
  :: atomic { finished < 2 -> dead2 = 1 }
  :: true -> goto out
  fi;
  atomic { if :: lk == 3 -> lk = 0 :: else fi }  /* releaseHeapFrom: forceRelease from the dead token */
  takeAll(3, 2);
out:
  skip
}
#endif

init {
  byte w; byte t; byte k; byte s; byte cnt;
  atomic {
    run Worker(1, 2);
    run Worker(2, 1);
#ifdef DEATH
    run Reclaimer();
#endif
  }
  finished == 2;
#ifdef DEATH
  (_nr_pr == 1);                                /* the Reclaimer is done too */
#endif
  /* final: each stack holds exactly the slots whose ghost says so, each once; a slot in transit
   * only in a dead worker's hands */
  w = 1;
  do
  :: w <= 2 ->
     t = head[w]; k = 0;
     do
     :: t != 0 && k <= NS -> assert(where[t - 1] == w); t = link[t - 1]; k++
     :: else -> break
     od;
     assert(t == 0);                            /* no cycle */
     cnt = 0; s = 0;
     do
     :: s < NS -> if :: where[s] == w -> cnt++ :: else fi; s++
     :: else -> break
     od;
     assert(cnt == k);
     w++
  :: else -> break
  od;
  s = 0;
  do
  :: s < NS -> assert(where[s] != TRANSIT + 1 && (where[s] != TRANSIT + 2 || dead2)); s++
  :: else -> break
  od
}
