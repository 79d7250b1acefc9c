/*
 * Model (c): FrameChannel of src/workers/channel.ts over its ring, src/region/channel-ring.ts:
 * trySend / take (tryReceive) under the ring's lock with its owner token and takeover of a
 * reclaimed holder, and send / receive waiting in `await`: load the counter, re-check, raise the
 * waiter count, Atomics.wait on the counter; the other side bumps the counter and notifies only
 * if the waiter count is positive.
 *
 * Atomics.wait(a, v, MAX_SLEEP_MS) is one step that either returns (the word is not v) or puts
 * the process to sleep until an Atomics.notify on a wakes it or its timeout passes: every wait
 * of `await` sleeps at most MAX_SLEEP_MS = 100 ms (the fix of finding F3), and the callers'
 * loops (send, receive) re-check the queue after every wake-up. Atomics.notify(a, 1) wakes any
 * one sleeper on a (the spec's order is FIFO, but a capped wait that times out goes to the back
 * of the queue, so which sleeper is first is the scheduler's choice).
 * Time: 100 ms is long against every step of the protocol, so time passes (a timeout fires) when
 * no other step can be taken: the Checker below then checks the wake-up properties and wakes
 * one sleeper, any one, as its timeout. With EARLY_TIMEOUT, a sleeper may also time out at any
 * step (a worker descheduled for longer than its timeout; the wake-up properties are then not
 * checked, as nobody ever sleeps when nothing else can move, but everything else is).
 * The lock's spin-then-wait loop is a blocking guard that re-checks the holder: it proceeds when
 * the lock is free, or when its holder's token is no longer alive (tokenAlive).
 *
 * Configurations (NW workers, capacity CAP, items ITEMS):
 *   default      worker 1 sends ITEMS frames; workers 2..NW receive them (NW = 3: one each).
 *   DEATH        (NW = 3) worker 3 is a receiver (two tryReceive) that may die at any step
 *                (holding the lock, between the queue writes ...); reclaimWorker frees its id;
 *                with RESPAWN a new worker then attaches with the same id (next generation) and
 *                takes an entry. Worker 2 receives for ever.
 *   DEATH_SENDER worker 1, the sender, may die at any step; the receivers receive for ever.
 *   PICKY        (NW = 3) worker 3 receives only frames of a type that is never sent
 *                (receive(meta)): it refuses the first frame it finds (WrongType: the entry stays
 *                queued, the wake-up it may have taken is passed on) and ends, or waits for ever
 *                once worker 2 has taken them all. Worker 2 receives every frame.
 *   END          end of stream: the sender, after its ITEMS, calls end() (lock, store C_ENDED,
 *                unlock, wake all receivers, wake all senders); receivers receive until take,
 *                under the lock, finds the ring empty and ended (receive returns null), then
 *                finish (NW = 3: workers 2 and 3; NW = 2: worker 2). With DEATH, worker 2 receives
 *                so and worker 3 dies or not as above. LATE: worker NW (3: one receiver, or 4: two)
 *                sends one more item, ITEMS + 1, around the end: put looks at C_ENDED
 *                under the lock and either enqueues it (before the end: it must be received)
 *                or throws Closed (after it), also when it waited for room.
 *                Properties: a receiver that returns "ended" leaves the queue empty with the
 *                ring ended (nothing queued is missed, nothing can follow); no put enqueues
 *                after the end; every item enqueued is received exactly once; once nobody is
 *                asleep, everyone finished (or, with DEATH, all but the dying worker).
 *                END_WAKEUP adds: nobody sleeps on a counter of a ring that is ended (the end
 *                wakes every waiter): end bumps C_SENT and C_RECEIVED under the lock, and
 *                await's ready() is also true once the ring is ended (the fix of finding F5,
 *                docs/verification.md; BROKEN_END_NO_BUMP is the code before it).
 * With a death, pan runs with -E: a receiver asleep on an empty queue at the end is fine, and the
 * Checker below says what is not.
 * A Checker runs whenever nothing else can move (Promela `timeout`). No process may then wait
 * for a lock, and without a death every worker must have finished. The wake-up properties:
 *   notify    nobody sleeps on a counter while what it waits for is there (a lost wake-up),
 *             unless a worker died between its queue write and its notify (diedOwing): live
 *             workers never leave a waiter to its timeout;
 *   timeout   a sleeper whose item or room is there is not asleep for ever: its wait times out
 *             (`capped`), and then
 *   re-check  it looks at the queue before it sleeps again (`rescued`: woken by a timeout while
 *             what it waits for was there, and has not looked since).
 *
 * Broken variants:
 *   BROKEN_SEEN_AFTER_CHECK     await loads the counter after its re-check        -> lost wake-up
 *   BROKEN_NOTIFY_BEFORE_COUNT  trySend reads the waiter count before bumping SENT -> lost wake-up
 *   BROKEN_TOKEN_NO_GEN         lock tokens without the generation (RESPAWN)       -> lock deadlock
 *   BROKEN_TAKEOVER_LIVE        lock takeover without the tokenAlive check         -> mutual exclusion
 *   BROKEN_UNBOUNDED_WAIT       (with a death) Atomics.wait without a timeout, as before the fix
 *                               of finding F3 -> the other side asleep for ever (timeout)
 *   BROKEN_WAIT_AGAIN           (with a death) await waits again after a timeout while the
 *                               counter is unchanged, without returning to the caller's re-check
 *                                                                              -> re-check
 *   BROKEN_NO_PASS_ON           (PICKY) a receiver that refuses a frame does not pass on the
 *                               wake-up it took                                -> lost wake-up
 *   BROKEN_END_OUTSIDE_LOCK     (END) take finds the ring empty under the lock, unlocks, then
 *                               reads C_ENDED: a send and the end in between   -> ended, item queued
 *   BROKEN_PUT_NO_END_CHECK     (END, LATE) put does not look at C_ENDED      -> enqueued after the end
 *   BROKEN_END_NO_WAKE          (END, END_WAKEUP) end() wakes nobody: safe, as every
 *                               sleep is capped, but a sleeper waits its timeout -> end wake-up
 */
#include "common.pml"

#ifndef NW
#define NW 2
#endif
#ifndef CAP
#define CAP 1
#endif
#ifndef ITEMS
#define ITEMS 2
#endif
#define SENDER 1
#define NP 8               /* process numbers (pids) */

/* The channel header words (region/channel-ring.ts C_*). */
#define C_LOCK 0
#define C_HEAD 2
#define C_TAIL 3
#define C_RECV_WAITERS 4
#define C_SEND_WAITERS 5
#define C_SENT 6
#define C_RECEIVED 7
#define C_ENDED 8
#define C_WORDS 9

int ch[C_WORDS];           /* positions in [0, 2 CAP); counters never wrap here */
byte ent[CAP];             /* entries: item number (the frame index + 1 in the code) */
byte gen[NW + 1];          /* W_GEN of each worker record */
bit wstate[NW + 1];        /* W_STATE: attached */
byte waitOn[NP];           /* Atomics.wait: the word + 1 a process sleeps on, 0 if awake */
bit inLock[NP];            /* ghost: the process waits for the channel lock */
bit rescued[NP];           /* ghost: woken by a timeout while its item / room was there, not looked since */
#ifdef BROKEN_WAIT_AGAIN
bit timedOut[NP];          /* the last wake-up was a timeout */
#endif
#ifdef BROKEN_UNBOUNDED_WAIT
bit capped = 0;            /* Atomics.wait without a timeout */
#else
bit capped = 1;            /* Atomics.wait(..., Math.min(left, MAX_SLEEP_MS)) */
#endif

/* Ghosts */
byte incs;                 /* processes inside the lock's critical section */
bit got[ITEMS + 2];        /* items received (ITEMS + 1: LATE's item) */
bit sentG[ITEMS + 2];      /* items in the queue or received (published by a TAIL store) */
byte nextOut = 1;          /* FIFO: the item the next receive must return (one sender) */
bit killed, gone, reclaimed, respawned;
bit diedOwing;             /* the dead worker died between its queue write and its notify */
byte finished;
bit refused;               /* PICKY: worker 3 refused a frame */
byte wq;                   /* NOTIFY1: the sleeper chosen */

#ifdef BROKEN_TOKEN_NO_GEN
#define MY_TOKEN (id)
#define TOKEN_ALIVE(t) (wstate[(t) & 127] == WORKER_ATTACHED && (id_of_no_gen(t)))
#define id_of_no_gen(t) 1
#else
#define MY_TOKEN TOKEN(gen[id], id)
#define TOKEN_ALIVE(t) (wstate[(t) & 127] == WORKER_ATTACHED && TOKEN(gen[(t) & 127], (t) & 127) == (t))
#endif
#define NEXT_POS(p) ((p) + 1 == 2 * CAP -> 0 : (p) + 1)
#define SIZE_OF(t, h) ((t) >= (h) -> (t) - (h) : (t) + 2 * CAP - (h))

/* ---- lock (lockRing / unlockRing: shm/lock.ts lockTakingOver, unlock) -----------------------  */
inline CLOCK() {
  do
  :: atomic {                              /* lockTakingOver: Atomics.compareExchange(at, 0, me) */
       o = ch[C_LOCK];
       if :: o == 0 -> ch[C_LOCK] = MY_TOKEN; incs++; assert(incs == 1) :: else fi
     }
     if
     :: o == 0 -> break
     :: else ->
        inLock[_pid] = 1;
        /* every 64 spins: tokenAlive(owner)? else wait(at, owner, 0.05) and spin again */
#ifdef BROKEN_TAKEOVER_LIVE
        skip;
#else
        (ch[C_LOCK] != o || !TOKEN_ALIVE(o));
#endif
        inLock[_pid] = 0;
        if
#ifdef BROKEN_TAKEOVER_LIVE
        :: ch[C_LOCK] == o ->              /* BROKEN: no tokenAlive check */
#else
        :: !TOKEN_ALIVE(o) ->              /* lockTakingOver: isGone(holder) */
#endif
           atomic {                        /* lockTakingOver: Atomics.compareExchange(at, holder, owner) */
             if
             :: ch[C_LOCK] == o -> ch[C_LOCK] = MY_TOKEN; o = 0; incs++; assert(incs == 1)  /* mutual exclusion */
             :: else
             fi
           }
           if :: o == 0 -> break :: else fi
        :: else
        fi
     fi
  od;
  o = 0
}
inline CUNLOCK() {
  d_step { incs--; ch[C_LOCK] = 0 }       /* unlock: Atomics.store(at, 0) */
}

#define ASLEEP (waitOn[0] + waitOn[1] + waitOn[2] + waitOn[3] + waitOn[4] + waitOn[5] + waitOn[6] + waitOn[7] > 0)
#define RECV_READY(q) (waitOn[q] == C_SENT + 1 && SIZE_OF(ch[C_TAIL], ch[C_HEAD]) > 0)
#define SEND_READY(q) (waitOn[q] == C_RECEIVED + 1 && SIZE_OF(ch[C_TAIL], ch[C_HEAD]) < CAP)

/* ---- Atomics.wait / Atomics.notify ------------------------------------------------------------ */
inline WAIT(w, v) {
  atomic {
    if
    :: ch[w] != v -> skip                  /* "not-equal" */
    :: else -> waitOn[_pid] = w + 1; waitOn[_pid] == 0   /* asleep until notified or timed out */
#ifdef BROKEN_WAIT_AGAIN
       ;
       do                                  /* BROKEN: while (wait(...) === 'timed-out' && counter unchanged) */
       :: timedOut[_pid] && ch[w] == v -> timedOut[_pid] = 0; waitOn[_pid] = w + 1; waitOn[_pid] == 0
       :: else -> timedOut[_pid] = 0; break
       od
#endif
    fi
  }
}
/* A timeout of sleeper q (the Checker's, or with EARLY_TIMEOUT anybody's). */
inline TIME_OUT(q) {
  rescued[q] = (RECV_READY(q) || SEND_READY(q));
#ifdef BROKEN_WAIT_AGAIN
  timedOut[q] = 1;
#endif
  waitOn[q] = 0                            /* Atomics.wait returns "timed-out" */
}
inline NOTIFY1(w) {
  /* The first sleeper found is chosen, each later one may replace it: any one is woken. */
  atomic {
    q = 0; wq = NP;                        /* Atomics.notify(counter, 1): wakes any one sleeper */
    do
    :: q < NP ->
       if
       :: waitOn[q] == w + 1 ->
          if
          :: wq = q
          :: wq != NP -> skip
          fi
       :: else
       fi;
       q++
    :: else -> break
    od;
    if :: wq < NP -> waitOn[wq] = 0 :: else fi;
    q = 0; wq = 0
  }
}

inline NOTIFYALL(w) {
  d_step {                                 /* Atomics.notify(counter, Infinity): wakes every sleeper */
    q = 0;
    do
    :: q < NP -> if :: waitOn[q] == w + 1 -> waitOn[q] = 0 :: else fi; q++
    :: else -> break
    od;
    q = 0
  }
}

/* ---- FrameChannel ------------------------------------------------------------------------- */
#ifdef BROKEN_PUT_NO_END_CHECK
#define PUT_OPEN 1                         /* BROKEN: put does not look at C_ENDED */
#else
#define PUT_OPEN (ch[C_ENDED] == 0)
#endif
/* trySend(item): ok = 1 if queued. */
inline trySend(item) {
  CLOCK();
  d_step { t = ch[C_TAIL]; h = ch[C_HEAD]; rescued[_pid] = 0 }   /* trySend: ringSize (under the lock) */
  if
#if defined(END) && !defined(BROKEN_PUT_NO_END_CHECK)
  :: ch[C_ENDED] != 0 -> CUNLOCK(); ok = 0; closed = 1   /* put: ringEnded (under the lock): throw Closed, unlockRing in its finally */
#endif
  :: PUT_OPEN && SIZE_OF(t, h) >= CAP -> CUNLOCK(); ok = 0
  :: PUT_OPEN && SIZE_OF(t, h) < CAP ->
     assert(ch[C_ENDED] == 0);             /* no send is enqueued after the end */
     ent[t % CAP] = item;                  /* enqueue: i32[at] = item.intoRaw() ... */
     d_step { ch[C_TAIL] = NEXT_POS(t); sentG[item] = 1; owe = 1 }   /* enqueue: Atomics.store(C_TAIL, next) */
#ifdef BROKEN_NOTIFY_BEFORE_COUNT
     CUNLOCK();
     if :: ch[C_RECV_WAITERS] > 0 -> n = 1 :: else -> n = 0 fi;   /* BROKEN: waiters read first */
     ch[C_SENT]++;
     if :: n -> NOTIFY1(C_SENT) :: else fi;
     n = 0; owe = 0;
#else
     ch[C_SENT]++;                         /* enqueue: Atomics.add(C_SENT, 1) */
     CUNLOCK();
     if                                    /* wakeReceivers: if RECV_WAITERS > 0: Atomics.notify(C_SENT, 1) */
     :: ch[C_RECV_WAITERS] > 0 -> NOTIFY1(C_SENT)
     :: else
     fi;
     owe = 0;
#endif
     ok = 1
  fi;
  t = 0; h = 0
}

/* take(): ok = 1 and the item in x if one was dequeued; with END, fin = 1 if the ring was
 * empty and ended (take returns false). */
inline take() {
  CLOCK();
  d_step { h = ch[C_HEAD]; t = ch[C_TAIL]; rescued[_pid] = 0 }   /* headEntry: head, tail (under the lock) */
  if
  :: h == t ->
#if defined(END) && defined(BROKEN_END_OUTSIDE_LOCK)
     CUNLOCK();                            /* BROKEN: unlockRing first ... */
     if :: ch[C_ENDED] != 0 -> fin = 1 :: else fi;   /* BROKEN: ... then ringEnded, outside the lock */
#elif defined(END)
     if :: ch[C_ENDED] != 0 -> fin = 1 :: else fi;   /* take: ringEnded (under the lock)? then false: empty for good */
     CUNLOCK();
#else
     CUNLOCK();
#endif
     ok = 0
  :: else ->
     x = ent[h % CAP];                     /* take: entryStart, entryFrames, Frame._restore (no shared write) */
     d_step {                              /* dequeue: Atomics.store(C_HEAD, next) */
       ch[C_HEAD] = NEXT_POS(h);
       assert(x >= 1 && x <= ITEMS + 1 && sentG[x] && !got[x]);   /* each frame comes out once */
       assert(x == nextOut || x == ITEMS + 1);   /* in the order sent (LATE's item: another sender) */
       got[x] = 1; if :: x != ITEMS + 1 -> nextOut++ :: else fi; owe = 1
     }
     ch[C_RECEIVED]++;                     /* dequeue: Atomics.add(C_RECEIVED, 1) */
     CUNLOCK();
     if                                    /* wakeSenders: if SEND_WAITERS > 0: Atomics.notify(C_RECEIVED, 1) */
     :: ch[C_SEND_WAITERS] > 0 -> NOTIFY1(C_RECEIVED)
     :: else
     fi;
     owe = 0; ok = 1
  fi;
  t = 0; h = 0
}

/* take(meta) of a type the head entry is not: ok = 1 if there was an entry, refused. */
inline takeRefusing() {
  CLOCK();
  d_step { h = ch[C_HEAD]; t = ch[C_TAIL]; rescued[_pid] = 0 }   /* headEntry: head, tail (under the lock) */
  if
  :: h == t -> CUNLOCK(); ok = 0
  :: else ->
     x = ent[h % CAP];                     /* take: Frame._restore(.., meta) throws WrongType; C_HEAD stays */
#ifndef BROKEN_NO_PASS_ON
     if                                    /* passWakeUpOn: wakeReceivers: if RECV_WAITERS > 0, Atomics.notify(C_SENT, 1) */
     :: ch[C_RECV_WAITERS] > 0 -> NOTIFY1(C_SENT)
     :: else
     fi;
#endif
     CUNLOCK();                            /* take: unlockRing in its finally; the error leaves receive() */
     x = 0; ok = 1
  fi;
  t = 0; h = 0
}

/* await(forRoom, deadline): the spin polls are ready() checks without side effects. */
inline awaitSent() {                       /* receive: await(false): sentCount, sleepOnSent */
#ifdef BROKEN_SEEN_AFTER_CHECK
  d_step { t = ch[C_TAIL] }; d_step { h = ch[C_HEAD] }
  if
  :: SIZE_OF(t, h) == 0 ->
     seen = ch[C_SENT];
#else
  seen = ch[C_SENT];                       /* sentCount: Atomics.load(C_SENT) */
  d_step { t = ch[C_TAIL] }                /* ringSize: Atomics.load(C_TAIL) ... */
  d_step { h = ch[C_HEAD]; rescued[_pid] = 0 }   /* ... - Atomics.load(C_HEAD) */
#ifndef BROKEN_END_NO_BUMP
  if :: ch[C_ENDED] != 0 -> t = h + 1 :: else fi;   /* FIX: await: ready() also if ringEnded */
#endif
  if
  :: SIZE_OF(t, h) == 0 ->
#endif
     ch[C_RECV_WAITERS]++;                 /* sleepOnSent: sleepOn: Atomics.add(waitersAt, 1) */
     WAIT(C_SENT, seen);                   /* Atomics.wait(counter, seen) */
     ch[C_RECV_WAITERS]--                  /* Atomics.sub(waitersAt, 1) */
  :: else
  fi;
  t = 0; h = 0; seen = 0
}
inline awaitReceived() {                   /* send: await(true): receivedCount, sleepOnReceived */
#ifdef BROKEN_SEEN_AFTER_CHECK
  d_step { t = ch[C_TAIL] }; d_step { h = ch[C_HEAD] }
  if
  :: SIZE_OF(t, h) >= CAP ->
     seen = ch[C_RECEIVED];
#else
  seen = ch[C_RECEIVED];                   /* receivedCount: Atomics.load(C_RECEIVED) */
  d_step { t = ch[C_TAIL] }                /* await: ready(): this.size < this.capacity */
  d_step { h = ch[C_HEAD]; rescued[_pid] = 0 }
#ifndef BROKEN_END_NO_BUMP
  if :: ch[C_ENDED] != 0 -> t = h :: else fi;   /* FIX: await: ready() also if ringEnded */
#endif
  if
  :: SIZE_OF(t, h) >= CAP ->
#endif
     ch[C_SEND_WAITERS]++;
     WAIT(C_RECEIVED, seen);
     ch[C_SEND_WAITERS]--
  :: else
  fi;
  t = 0; h = 0; seen = 0
}

/* send(item) with the default timeout (forever): the loop re-checks after every wake-up; with
 * END, closed = 1 if put threw Closed. */
inline send(item) {
  do
  :: trySend(item);
     if
     :: ok -> ok = 0; break
#ifdef END
     :: closed -> break                    /* send: FrameUseError('Closed') leaves it */
#endif
     :: else
     fi;
     awaitReceived()
  od
}
/* receive() with the default timeout (forever): the loop re-checks after every wake-up; with
 * END, fin = 1 if it returned null for the end. */
inline receive() {
  do
  :: take();
     if
     :: ok -> ok = 0; break
#ifdef END
     :: fin ->                             /* receiveWaiting: take returned false: return null */
        assert(ch[C_TAIL] == ch[C_HEAD] && ch[C_ENDED] == 1);   /* returned "ended": nothing queued, nothing to follow */
        break
#endif
     :: else
     fi;
     awaitSent()
  od
}

#ifdef END
/* end(): under the ring's lock, then every waiter of both sides is woken. */
inline endCh() {
  CLOCK();                                 /* end: lockRing */
  ch[C_ENDED] = 1;                         /* end: endRing: Atomics.store(C_ENDED, 1) */
#ifndef BROKEN_END_NO_BUMP
  ch[C_SENT]++;                            /* FIX: end: Atomics.add(C_SENT, 1) */
  ch[C_RECEIVED]++;                        /* FIX: end: Atomics.add(C_RECEIVED, 1) */
#endif
  CUNLOCK();                               /* end: unlockRing */
#ifndef BROKEN_END_NO_WAKE
  if                                       /* wakeAllReceivers: if RECV_WAITERS > 0: Atomics.notify(C_SENT, Infinity) */
  :: ch[C_RECV_WAITERS] > 0 -> NOTIFYALL(C_SENT)
  :: else
  fi;
  if                                       /* wakeAllSenders: if SEND_WAITERS > 0: Atomics.notify(C_RECEIVED, Infinity) */
  :: ch[C_SEND_WAITERS] > 0 -> NOTIFYALL(C_RECEIVED)
  :: else
  fi
#else
  skip
#endif
}
#endif

proctype Sender(byte id) {
  int o; byte t, h, n, q, seen, k;
  bit ok, owe, closed;
  k = 1;
#ifdef DEATH_SENDER
  {
#endif
  do
  :: k <= ITEMS -> send(k); k++
  :: else -> break
  od;
#ifdef END
  endCh();
#endif
  finished++
#ifdef DEATH_SENDER
  } unless { killed; d_step { if :: ch[C_LOCK] == MY_TOKEN -> incs-- :: else fi; inLock[_pid] = 0; waitOn[_pid] = 0; diedOwing = owe; gone = 1 } }   /* the sender dies */
#endif
}

/* A receiver of `n` items; n = 0: it receives for ever (with a death, where the number of
 * items it gets depends on what the dying worker took). */
proctype Receiver(byte id; byte n) {
  int o; byte t, h, q, seen, x, k;
  bit ok, owe, fin;
  do
#ifdef END
  :: fin -> break                          /* receive returned null: the stream ended */
  :: !fin && (n == 0 || k < n) -> receive(); k++; x = 0
#else
  :: n == 0 || k < n -> receive(); k++; x = 0
#endif
  :: else -> break
  od;
  finished++
}

#ifdef DEATH
/* The receiver that may die at any step: two tryReceive calls. */
proctype Dier(byte id) {
  int o; byte t, h, q, x, k;
  bit ok, owe, fin;
  {
    do
    :: k < 2 -> take(); x = 0; ok = 0; k++
    :: else -> break
    od;
    finished++
  } unless {
    killed;
    d_step { if :: ch[C_LOCK] == MY_TOKEN -> incs-- :: else fi; inLock[_pid] = 0; diedOwing = owe; gone = 1 }   /* the receiver dies */
  }
}
#endif

#ifdef PICKY
/* receive(OtherMeta) of a type never sent: it refuses the first frame it finds, and ends (the
 * WrongType error leaves receive); or it waits on an empty queue for ever. */
proctype Picky(byte id) {
  int o; byte t, h, q, seen, x;
  bit ok, owe, fin;
  do
  :: takeRefusing(); if :: ok -> break :: else fi; awaitSent()
  od;
  refused = 1
}
#endif

#ifdef LATE
/* Worker 4 sends one item, ITEMS + 1, around the end: queued (before it) or Closed (after it). */
proctype Late(byte id) {
  int o; byte t, h, n, q, seen;
  bit ok, owe, closed;
  send(ITEMS + 1);
  finished++
}
#endif

#if defined(DEATH) || defined(DEATH_SENDER)
/* reclaimWorker: the dead worker's record is freed (the channel is not touched). */
proctype Reclaimer(byte dead) {
  int o; byte id, t, h, q, x;
  bit ok, owe, fin;
  gone;
  wstate[dead] = WORKER_FREE;              /* reclaimRecord: Atomics.store(W_STATE, FREE) */
  reclaimed = 1;
#ifdef RESPAWN
  /* FrameSystem.attach in a new worker: claimWorker takes the id, raises the generation. */
  atomic { wstate[dead] == WORKER_FREE -> wstate[dead] = WORKER_ATTACHED }
  gen[dead] = gen[dead] + 1;
  id = dead;
  take();                                  /* the new worker's tryReceive */
  respawned = 1
#endif
}

active proctype Killer() {
  if :: killed = 1 :: skip fi
}
#endif

/* Whenever nothing else can move: the properties, then time passes (one sleeper times out).
 * For every process q:
 *   notify    !RECV_READY(q) || diedOwing, !SEND_READY(q) || diedOwing: no lost wake-up among
 *             live workers (receiver, sender);
 *   timeout   !RECV_READY(q) || capped, !SEND_READY(q) || capped: not asleep for ever;
 *   re-check  !(rescued[q] && ready): it looked at the queue after its timeout;
 *   and !inLock[q]: no deadlock on the lock. Without a death, everyone finished. */
active proctype Checker() {
  byte q;
end:
  do
  :: timeout ->
     d_step {                                    /* nothing else can move: the properties */
       q = 0;
       do
       :: q < NP ->
          assert(!RECV_READY(q) || diedOwing);
          assert(!SEND_READY(q) || diedOwing);
          assert(!RECV_READY(q) || capped);
          assert(!SEND_READY(q) || capped);
          assert(!(rescued[q] && (RECV_READY(q) || SEND_READY(q))));
          assert(!inLock[q]);
          q++
       :: else -> break
       od;
#if defined(END_WAKEUP)
       /* the end woke every waiter: nobody sleeps on a counter of an ended ring */
       assert(!(waitOn[0] + waitOn[1] + waitOn[2] + waitOn[3] + waitOn[4] + waitOn[5] + waitOn[6] + waitOn[7] > 0 && ch[C_ENDED] == 1));
#endif
#if defined(END) && defined(DEATH)
       /* once the sleepers woke: the sender and worker 2 finished, every item came out (nextOut: in order) */
       assert(ASLEEP || (finished >= NW - 1 && nextOut == ITEMS + 1));
#elif defined(END)
       /* once the sleepers woke: everyone finished, every item enqueued came out */
       assert(ASLEEP || (finished == NW && nextOut == ITEMS + 1 && got[ITEMS + 1] == sentG[ITEMS + 1]));
#elif defined(PICKY)
       /* the sender and the receiver of every frame finished (the picky one may wait) */
       assert(finished == NW - 1);
#elif !defined(DEATH) && !defined(DEATH_SENDER)
       assert(finished == NW);
#endif
       q = 0
     }
     if
     :: capped && ASLEEP ->
        atomic {                                 /* MAX_SLEEP_MS passed: a sleeper's Atomics.wait returns "timed-out" */
          q = 0;
          do
          :: q < NP && waitOn[q] != 0 -> TIME_OUT(q); break
          :: q < NP -> q++
          :: q == NP -> break
          od;
          q = 0
        }
     :: else -> break
     fi
  od
}

#ifdef EARLY_TIMEOUT
/* A sleeper may time out at any step (its worker was descheduled for MAX_SLEEP_MS). */
active proctype Early() {
  byte q;
end:
  do
  :: atomic {
       ASLEEP ->
       q = 0;
       do
       :: q < NP && waitOn[q] != 0 -> TIME_OUT(q); break
       :: q < NP -> q++
       :: q == NP -> break
       od;
       q = 0
     }
  od
}
#endif

init {
  byte w;
  atomic {
    w = 1;
    do
    :: w <= NW -> wstate[w] = WORKER_ATTACHED; gen[w] = 1; w++
    :: else -> break
    od;
    run Sender(SENDER);
#if defined(DEATH)
    run Receiver(2, 0);                    /* NW = 3: worker 3 is the Dier */
    run Dier(3);
    run Reclaimer(3);
#elif defined(DEATH_SENDER)
    run Receiver(2, 0);
#if NW == 3
    run Receiver(3, 0);
#endif
    run Reclaimer(SENDER);
#elif defined(END) && defined(LATE)
    run Receiver(2, 0);                    /* until the end */
#if NW == 4
    run Receiver(3, 0);
#endif
    run Late(NW);                          /* the second sender: worker NW */
#elif defined(END)
    run Receiver(2, 0);                    /* until the end */
#if NW == 3
    run Receiver(3, 0);
#endif
#elif defined(PICKY)
    run Receiver(2, ITEMS);                /* NW = 3: worker 3 is the picky receiver */
    run Picky(3);
#elif NW == 2
    run Receiver(2, ITEMS);
#else
    run Receiver(2, ITEMS - 1);
    run Receiver(3, 1);
#endif
    w = 0
  }
}
