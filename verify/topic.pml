/*
 * FrameTopic (src/workers/topic.ts, src/region/topic.ts): the table of subscriptions under the
 * topic's lock, publish's fan-out into the subscription rings, unsubscribe, and the sweep of a
 * subscriber that is gone (by reclaimWorker, and lazily by publish), with a subscriber that may
 * die at any step.
 *
 * What is modelled: one publisher (P) publishing PUBS frames; one subscriber (S) that subscribes,
 * receives some items, then unsubscribes (it may die at any step with DEATH); with DEATH a
 * reclaimer (R) that, once S is dead, releases S's worker record (its token is then gone) and
 * sweeps the topic (sweepTopics). Reference counts of the published frames, of the subscription's
 * ring and of the topic frame are plain counters. The ring itself (its lock, head and tail) is
 * one atomic step here: verify/channel.pml checks it.
 *
 * Properties (asserts):
 *   - a publisher offers only to a ring that is still allocated (no send reaches a freed ring);
 *   - no count goes below zero (nothing is dropped twice);
 *   - at the end: every published frame is held by the topic's latest only, or also by a queue
 *     that the dead subscriber took with it (it died after taking its entry out, before it let go:
 *     a dead worker's handles stay, by design); the ring is freed unless so held; the topic's
 *     frame is held by P alone, plus the dead subscriber's reference in that same case.
 *
 * Variants:
 *   DEATH                        S may die at any step; R reclaims it
 *   BROKEN_UNLOCKED_PUBLISH      publish reads the table under the lock but offers after the
 *                                unlock                          -> offer to a freed ring
 *   BROKEN_DROP_BEFORE_REMOVE    unsubscribe lets go of its ring before taking its entry out
 *                                                                -> offer to a freed ring
 *   BROKEN_SWEEP_LIVE            publish's sweep takes entries without the token check (a live
 *                                subscriber swept)               -> a reference dropped twice
 */
#include "common.pml"

#ifndef PUBS
#define PUBS 2
#endif
#ifndef CAP
#define CAP 1
#endif

#define NP 3                 /* P = 0, S = 1, R = 2 */
#define TOK_S 1              /* S's lock token (its worker id and generation, folded) */
#define TOK_P 2
#define TOK_R 3

byte tlock;                  /* the topic's lock: the holder's token, 0 when free (T_LOCK) */
bit sAlive = 1;              /* S's worker record attached: tokenAlive(TOK_S) */
bit sDead;                   /* ghost: S died */
byte entCh;                  /* the one entry of the table: the ring + 1 (E_CHANNEL), 0 free */
byte entTok;                 /* E_TOKEN */
byte latest;                 /* T_LATEST: the frame + 1, 0 none */
byte refs[PUBS + 1];         /* reference counts of the published frames 1..PUBS */
byte ringRef;                /* references to S's ring (the subscriber's; an opener's while it sweeps) */
bit ringAllocated;           /* ghost: the ring's frames are allocated */
byte topicRef = 1;           /* references to the topic frame: P's FrameTopic object's */
byte q[CAP];                 /* the ring's queue: frame numbers, head first */
byte qn;
byte missed;                 /* C_MISSED */
bit sOwnsRing;               /* ghost: S holds its ring reference (from subscribe until it lets go) */
bit sOwnsTopic;              /* ghost: S holds its topic reference */
bit leakedRing;              /* ghost: S died holding its ring reference, its entry not in the table */
bit leakedTopic;             /* ghost: the same for its topic reference */
bit sDone;                   /* ghost: S finished (unsubscribed) */
byte sx;                     /* the frame S received and holds (a dead worker's handle stays held) */
byte done;                   /* processes finished */

#define GONE(tok) ((tok) == TOK_S && !sAlive)

/* lockTopic: lockTakingOver: free, or held by a token that is gone (then taken over). */
#define TLOCK(me) atomic { (tlock == 0 || GONE(tlock)) -> tlock = me }
#define TUNLOCK() tlock = 0

#define DROP_FRAME(f) d_step { assert(refs[f] > 0); refs[f]-- }

/* Drops every item queued in S's ring (a drain after the end: the ring is out of the table). */
inline drain() {
  do
  :: qn > 0 -> d_step { DROP_FRAME(q[0]); q[0] = q[1 % CAP]; qn-- }   /* sweepGone: tryReceiveSegment + drop */
  :: else -> break
  od
}

/* The ring's last reference going: its onDrop drops what is still queued, then its frames go. */
inline dropRing() {
  d_step { assert(ringRef > 0); ringRef-- };
  if
  :: ringRef == 0 -> drain(); ringAllocated = 0
  :: else
  fi
}

/* offerFrame: one reference more for the ring, queued if there is room; else missed. */
inline offer(f) {
  assert(ringAllocated);                      /* no send reaches a freed ring */
  d_step {
    refs[f]++;                                /* publish: frame.clone().intoRaw() */
    if
    :: qn < CAP -> q[qn] = f; qn++            /* offerFrame: enqueue */
    :: else -> refs[f]--; missed++            /* offerFrame: full: missed; publish drops the clone */
    fi
  }
}

/* ---- the publisher ------------------------------------------------------------------------ */
active proctype P() {
  byte f = 1;
  byte old;
  byte ch;
  bit gone;
  do
  :: f <= PUBS ->
     refs[f] = 1;                             /* the caller's frame */
     TLOCK(TOK_P);                            /* publish: lockTopic */
     ch = entCh;
     if
#ifdef BROKEN_SWEEP_LIVE
     :: ch != 0 -> entCh = 0; gone = 1        /* BROKEN: no token check */
     :: ch != 0 && 0 ->
#else
     :: ch != 0 && GONE(entTok) -> entCh = 0; gone = 1   /* forEachSubscriber: a gone subscriber taken out */
     :: ch != 0 && !GONE(entTok) ->
#endif
#ifdef BROKEN_UNLOCKED_PUBLISH
        skip
#else
        offer(f)
#endif
     :: else
     fi;
     d_step { old = latest; latest = f };     /* swapLatest: the caller's reference is the topic's now */
     TUNLOCK();                               /* publish: unlockTopic */
#ifdef BROKEN_UNLOCKED_PUBLISH
     if :: ch != 0 && !gone -> offer(f) :: else fi;   /* BROKEN: the offer after the unlock */
#endif
     if :: old != 0 -> DROP_FRAME(old) :: else fi;     /* publish: the replaced latest, after the unlock */
     if
     :: gone ->                               /* sweepGone: end, drain, then the gone one's references */
        ringRef++; drain(); dropRing();       /* FrameChannel.open ... close */
        dropRing();                           /* sweepGone: the subscriber's ring reference */
        d_step { assert(topicRef > 0); topicRef-- };   /* sweepGone: the subscriber's topic reference */
        gone = 0
     :: else
     fi;
     f++; ch = 0; old = 0
  :: else -> break
  od;
  done++
}

/* ---- the subscriber ----------------------------------------------------------------------- */
#ifdef DEATH
#define DIE() if :: !sDead -> skip :: d_step { !sDead -> sDead = 1; leakedRing = (sOwnsRing && entCh == 0); leakedTopic = (sOwnsTopic && entCh == 0) }; goto dead fi
#else
#define DIE() skip
#endif

active proctype S() {
  /* subscribe: the ring (its reference) and a reference to the topic, then the entry */
  d_step { ringRef = 1; ringAllocated = 1; topicRef++; sOwnsRing = 1; sOwnsTopic = 1 };   /* subscribe: TopicSubscription._ring, frame.clone() */
  DIE();
  TLOCK(TOK_S);                               /* subscribe: lockTopic */
  DIE();
  entTok = TOK_S;                             /* addSubscriber: the token first ... */
  DIE();
  entCh = 1;                                  /* addSubscriber: ... the channel word publishes the entry */
  DIE();
  TUNLOCK();
  DIE();
  /* receive: at most one item, or none */
  if
  :: d_step { qn > 0 -> sx = q[0]; q[0] = q[1 % CAP]; qn-- }; DIE(); d_step { DROP_FRAME(sx); sx = 0 }   /* take, then the item's drop */
  :: skip
  fi;
  DIE();
  /* unsubscribe */
#ifdef BROKEN_DROP_BEFORE_REMOVE
  d_step { dropRing(); sOwnsRing = 0 };       /* BROKEN: the ring let go of first */
  DIE();
#endif
  TLOCK(TOK_S);                               /* unsubscribe: lockTopic */
  DIE();
  entCh = 0;                                  /* removeSubscriber: one store */
  DIE();
  TUNLOCK();
  DIE();
  drain();                                    /* unsubscribe: endRingNow, then take until empty */
  DIE();
#ifndef BROKEN_DROP_BEFORE_REMOVE
  d_step { dropRing(); sOwnsRing = 0 };       /* closeChannel: the subscription's ring reference */
  DIE();
#endif
  d_step { assert(topicRef > 0); topicRef--; sOwnsTopic = 0 };   /* unsubscribe: this.topic.drop() */
  sDone = 1;
  done++;
  goto out;
dead:
  done++;
out:
  skip
}

/* ---- the reclaimer ------------------------------------------------------------------------ */
#ifdef DEATH
active proctype R() {
  bit gone;
  if
  :: sDead -> skip                            /* worker 'exit' */
  :: sDone -> goto fin                        /* it closed its subscription: nothing to reclaim */
  fi;
  sAlive = 0;                                 /* reclaimWorkers: the record released, the token gone */
  TLOCK(TOK_R);                               /* sweepTopics: lockTopic (taken over if S held it) */
  if
  :: entCh != 0 && GONE(entTok) -> entCh = 0; gone = 1   /* takeGoneLocked: the gone subscription out */
  :: else
  fi;
  TUNLOCK();
  if
  :: gone ->
     ringRef++; drain(); dropRing();          /* sweepGone: FrameChannel.open, end, drain, close */
     dropRing();                              /* sweepGone: the subscriber's ring reference */
     d_step { assert(topicRef > 0); topicRef-- }
  :: else
  fi;
fin:
  done++
}
#else
active proctype R() { done++ }
#endif

/* At the end: everything back but the latest (the topic's), and what a dead subscriber took with it. */
active proctype Final() {
  byte f;
  byte k;
  byte n;
  done == NP;
  for (f : 1 .. PUBS) {
    n = 0;
    if
    :: leakedRing ->                           /* its ring kept its queue: those references too */
       for (k : 0 .. CAP - 1) { if :: k < qn && q[k] == f -> n++ :: else fi }
    :: else
    fi;
    if :: latest == f -> n++ :: else fi;
    if :: sx == f -> n++ :: else fi;           /* held by the dead subscriber's handle */
    assert(refs[f] == n)
  }
  assert(ringAllocated == leakedRing);
  assert(topicRef == 1 + leakedTopic)
}
