/*
 * The grow step of a region (src/region/grow.ts growLocked, src/frame-allocator/grow.ts
 * growRegion), racing allocations, the workers' views, and a death mid-grow finished by
 * reclaimWorker (src/workers/reclaim.ts reclaim: takeOverAllocator, completeGrowOf, rebuildLocked).
 *
 * The region starts with N0 frames and may grow to MAXF. Shared state: the memory's length in
 * frames (mem: what any worker can address once it looks again; memory.grow in growMemory), the
 * header's count (hdr: header.ts H_NFRAMES, setCommittedFrames), the free marks / lists
 * (freeF[f]: free-lists.ts markFree + freeRunsLocked; the lists are rebuilt from the marks after a
 * death, so the model keeps the marks only), the allocator lock (lk: H_BUDDY_LOCK, the holder's
 * pid + 1), and each grower's operation journal (jStart, jN: journal.ts recordOp OP_GROW).
 *
 * Processes:
 *   Grower g (G1 grows by 2, G2 by 1):  lockAllocator (then syncFrames: its view := hdr);
 *        growLocked: old := view; past MAXF -> unlock, done; recordOp(OP_GROW); growMemory (mem);
 *        setCommittedFrames (hdr); [the caller] freeRunsLocked: mark each new frame free;
 *        clearOp; unlockAllocator.
 *   Allocator A: ALLOCS times: lockAllocator (view := hdr); take any free frame; unlock; then use
 *        its bytes: reachFrames (view := hdr if the frame is past the view) and touch it, which
 *        must be inside the view and the memory (no stale view, no frame handed out early).
 *   Reader R: a worker given a frame address by another (Frame.fromInUse), or asked for
 *        sys.nframes, looks at the count without the lock: every count it can read must be
 *        addressable (hdr <= mem).
 *   With DEATH, G1 may die at any step (holding the lock); the Reclaimer then takes the lock over
 *   (its token is gone) and runs completeGrowOf on G1's journal, then unlocks.
 *
 * Properties:
 *   safety  the Reader never sees a count past the memory (hdr <= mem); the Allocator never takes
 *           a frame outside the count or the memory, and reaches every frame it takes;
 *   final   every frame below the count is free or held by the Allocator, none above it is free,
 *           and the count is N0 plus exactly what the completed grows asked for.
 *
 * Broken variants (each must fail):
 *   BROKEN_COUNT_FIRST   the count is raised before the memory grows        -> safety (Reader)
 *   BROKEN_NO_SYNC       the Allocator keeps the view it had (no syncFrames / reachFrames: the
 *                        stale view of emnapi#217)                           -> safety (Allocator)
 *   BROKEN_FREE_FIRST    the new frames are marked free and the lock let go before the memory
 *                        grows (as a custom allocator fed before the grow); run with ONE_GROWER
 *                        (G1 only), so that what fails is the Allocator's take -> safety (Allocator)
 *   BROKEN_NO_COMPLETE   (DEATH) reclaim rebuilds without finishing the grow  -> final (frames lost)
 */
#include "common.pml"

#ifndef N0
#define N0 1
#endif
#ifndef MAXF
#define MAXF 4
#endif
#ifndef ALLOCS
#define ALLOCS 2
#endif
#define OP_GROW 4               /* region/journal.ts OP_GROW */

byte mem = N0;                  /* frames the memory can address */
byte hdr = N0;                  /* header.ts H_NFRAMES */
bit freeF[MAXF];                /* free marks (free-lists.ts markFree) */
byte lk = 0;                    /* the allocator lock: holder's pid + 1, 0 when free */
byte jStart[3];                 /* per grower (1, 2): journal.ts W_OP_START (old + 1; 0 none) */
byte jN[3];
byte grown = 0;                 /* frames added by completed grows (each grower's own share) */
bit held[MAXF];                 /* frames the Allocator took */
bit g1dead = 0;
bit g1done = 0;
bit g2done = 0;
bit aDone = 0;
bit rDone = 0;

inline lockAllocator(me) {
  atomic { lk == 0 -> lk = me + 1 }
}
inline unlockAllocator() {
  lk = 0
}

/* One grower: id 1 or 2, growing by n. `dies` is set when it died (G1 only). */
proctype Grower(byte id; byte n) {
  byte view; byte old; byte f;
  lockAllocator(_pid);
  view = hdr;                                   /* lockAllocator: syncFrames */
  old = view;                                   /* growLocked: r.nframes, exact under the lock */
  if
  :: old + n > MAXF -> unlockAllocator(); goto done
  :: else
  fi;
#ifdef DEATH
  if :: id == 1 -> if :: g1dead = 1; goto dead :: skip fi :: else fi;
#endif
  jN[id] = n; jStart[id] = old + 1;            /* recordOp(r, OP_GROW, old, n): count, then start */
#ifdef DEATH
  if :: id == 1 -> if :: g1dead = 1; goto dead :: skip fi :: else fi;
#endif
#ifdef BROKEN_FREE_FIRST
  f = old; do :: f < old + n -> freeF[f] = 1; f++ :: else -> break od;
  unlockAllocator();
  if :: mem < old + n -> mem = old + n :: else fi;
  hdr = old + n;
  jStart[id] = 0; jN[id] = 0;
  grown = grown + n;
  goto done;
#endif
#ifdef BROKEN_COUNT_FIRST
  hdr = old + n;
#endif
  if :: mem < old + n -> mem = old + n :: else fi;   /* growMemory: memory.grow, shared at once */
#ifdef DEATH
  if :: id == 1 -> if :: g1dead = 1; goto dead :: skip fi :: else fi;
#endif
  hdr = old + n;                                /* setCommittedFrames, then r.resize */
  f = old;
  do                                            /* freeRunsLocked: markFree, then the lists */
  :: f < old + n ->
     freeF[f] = 1; f++;
#ifdef DEATH
     if :: id == 1 -> if :: g1dead = 1; goto dead :: skip fi :: else fi;
#endif
  :: else -> break
  od;
  jStart[id] = 0; jN[id] = 0;                   /* clearOp: start, then count */
  grown = grown + n;
  unlockAllocator();
done:
  if :: id == 1 -> g1done = 1 :: else -> g2done = 1 fi;
  goto end;
dead:
  skip;                                         /* stops here, holding the lock */
end:
  skip
}

/* The Allocator: takes ALLOCS frames, one at a time, and touches each. */
proctype Allocator() {
  byte k = 0; byte view = N0; byte f;
  do
  :: k < ALLOCS ->
     lockAllocator(_pid);
#ifndef BROKEN_NO_SYNC
     view = hdr;                                /* lockAllocator: syncFrames */
#endif
     f = 0;
     do                                         /* any free frame (the buddy's choice) */
     :: f < MAXF && freeF[f] -> break
     :: f < MAXF -> f++
     :: f >= MAXF -> f = MAXF; break
     od;
     if
     :: f < MAXF && freeF[f] ->
        freeF[f] = 0; held[f] = 1;
        assert(f < hdr && f < mem);             /* never a frame past the count or the memory */
        unlockAllocator();
#ifndef BROKEN_NO_SYNC
        if :: f >= view -> view = hdr :: else fi;  /* reachFrames before bytes() */
#endif
        assert(f < view && f < mem)             /* the bytes are reachable: no stale view */
     :: else -> unlockAllocator()               /* NoMemory this time */
     fi;
     k++
  :: else -> break
  od;
  aDone = 1
}

/* A worker reading the count without the lock (sys.nframes, a bounds check's syncFrames). */
proctype Reader() {
  byte n;
  do
  :: n = hdr; assert(n <= mem)
  :: g1done && g2done -> break
  od;
  rDone = 1
}

#ifdef DEATH
/* reclaimWorker of G1 once it died: takeOverAllocator, completeGrowOf, rebuildLocked, unlock. */
proctype Reclaimer() {
  byte old; byte n; byte f;
end_alive:
  g1dead;                                       /* it died holding the allocator lock (a G1 that lives leaves it waiting here) */
  lk = _pid + 1;                                /* takeOverAllocator: CAS from the dead token */
#ifndef BROKEN_NO_COMPLETE
  if
  :: jStart[1] != 0 ->                          /* completeGrowOf: OP_GROW in its journal */
     old = jStart[1] - 1; n = jN[1];
     if
     :: hdr < old + n ->
        if
        :: hdr != old -> jStart[1] = 0; jN[1] = 0; goto unlocked   /* never grew: dropped */
        :: else
        fi;
        if :: mem < old + n -> mem = old + n :: else fi;
        hdr = old + n
     :: else
     fi;
     f = old; do :: f < old + n -> freeF[f] = 1; f++ :: else -> break od;
     grown = grown + n;
     jStart[1] = 0; jN[1] = 0
  :: else
  fi;
#endif
unlocked:
  unlockAllocator();                            /* (rebuildLocked lists the marked frames) */
  g1done = 1
}
#endif

init {
  byte f;
  f = 0; do :: f < N0 -> freeF[f] = 1; f++ :: else -> break od;
  atomic {
    run Grower(1, 2);
#ifndef ONE_GROWER
    run Grower(2, 1);
#else
    g2done = 1;
#endif
    run Allocator();
    run Reader();
#ifdef DEATH
    run Reclaimer();
#endif
  }
  g1done && g2done && aDone && rDone;
  /* final: the count is N0 plus what completed grows added; below it every frame is free or
   * held, above it none is free (nothing lost, nothing handed out early) */
  assert(hdr == N0 + grown);
  f = 0;
  do
  :: f < MAXF ->
     assert((f < hdr && (freeF[f] || held[f])) || (f >= hdr && !freeF[f] && !held[f]));
     f++
  :: else -> break
  od
}
