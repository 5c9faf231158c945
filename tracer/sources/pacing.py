"""Request pacing shared by every worker thread of one source, adapting to the server.

Free explorer tiers allow 3-5 calls a second. Sending them one after the
other wastes most of that allowance in round-trip time (five 200 ms calls
already take a whole second), so calls run concurrently and this pacer
spaces their *starts* 1/rate apart.

The rate asked for (--rate) is a ceiling, not a promise: a server that
allows fewer calls says "rate limit" (Etherscan: HTTP 200 and a NOTOK body;
Blockscout and nodes: HTTP 429). Retrying at the same rate then only
collects refusals until the client gives up, so the pacer adapts, AIMD
style, like TCP does to a congested link:

- a refusal cuts the rate at once. If calls got through in the second
  before the refused one, the server evidently takes about that many a
  second (explorers count calls per second): far above that, the rate
  drops to it; close to it, 10% below the current rate; either way the
  rate found becomes a cap. If none got through, or the pacer is told not
  to measure (a node: one HTTP request may be a batch of a hundred calls,
  its limits are in compute units, and a lone "busy" says little), it
  halves, down to FLOOR, and what got through becomes the cap if that is
  above the halved rate. Refusals of calls that started before the cut
  are echoes of the same overload and cut nothing more;
- each second's worth of answered calls raises the rate back toward
  --rate: by a quarter, up to the cap, while there is one; doubling when
  there is none. The cap lapses once the last cut is HOLD seconds old, so
  a server that allows more again is found again;
- a refusal also pauses everyone (penalise; the server's Retry-After or
  x-ratelimit-reset when it sends one). Every change of pace voids the
  start slots already handed out: callers asleep waiting for theirs wake
  and queue again at the new pace, so no stale fast slot fires after a cut
  (nor a stale slow one after a rise);
- `streak` counts cuts with no answered call in between: the callers use
  it to give up on a server that never recovers, whatever the thread count.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime

# Starts spaced exactly 1/rate apart arrive with a few milliseconds of jitter,
# so a server counting calls per sliding second sees rate+1 in some windows and
# answers "rate limit". Spacing them 3% wider costs 3% of throughput and removes
# nearly all of those refusals (each of which costs a retry and a pause).
SAFETY = 1.03

CUT_BLIND = 0.5  # nothing known about the server's rate: halve
CUT_NEAR = 0.9  # already at about what got through: a step below it
GROWTH = 1.25  # per second's worth of answered calls, below a cap
SLOW_START = 2.0  # per second's worth of answered calls, without a cap
CAP = 0.95  # after a step down, grow back only to this share of the rate refused...
HOLD = 30.0  # ...or to what got through, until the last cut is this many seconds old
FLOOR = 0.2  # calls/s; Etherscan once allowed keyless callers 1 call per 5 s
WINDOW = 1.0  # servers count calls per second
MAX_PAUSE = 120.0  # the longest pause a server's header is trusted to ask for
NAP = 0.25  # a waiting caller looks up at least this often (an injected sleep cannot be woken)


_thread = threading.local()


@contextmanager
def urgent() -> Iterator[None]:
    """Calls this thread makes inside the block start before calls already waiting for the pacer.

    For the few answers a whole stage waits for (a hop's balance screen and the head block after it):
    queued behind a level's hundred list pages, they would leave the next stage idle for a round trip
    per hop. The rate is unchanged; only the order of starts is."""
    before = getattr(_thread, "urgent", False)
    _thread.urgent = True
    try:
        yield
    finally:
        _thread.urgent = before


def is_urgent() -> bool:
    return getattr(_thread, "urgent", False)


class Pacer:
    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None, min_rate: float = FLOOR, measure: bool = True):
        """`sleep` None: wait on a condition that a push-back wakes at once (real time only).
        `measure` False: never take what got through as the server's rate (cuts always halve)."""
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.measure = measure
        self.max_rate = float(rate)
        self.min_rate = min(float(rate), min_rate)
        self._rate = float(rate)
        self.interval = SAFETY / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._woken = threading.Condition(self._lock)
        self._next = float("-inf")  # the next free start slot
        self._last_start = float("-inf")
        self._resume = float("-inf")  # no start before this (the last pause's end)
        self._epoch = 0  # bumped by every change of pace: slots handed out before it are void
        self._urgent_next = float("-inf")  # no urgent caller starts before this (see urgent())
        self._overtaken = 0  # bumped when an urgent caller takes a slot before the ordinary ones: theirs are void
        self._cut_at = float("-inf")
        self._cap: float | None = None  # growth stops here until the last cut is HOLD seconds old
        self._answered = 0  # calls answered since the rate last changed
        self._starts: deque[float] = deque(maxlen=8192)  # start times of calls lately
        self._refusals: deque[float] = deque(maxlen=8192)  # start times of refused calls lately
        self.streak = 0  # cuts since the last answered call: a server that never recovers
        self.waiting = 0  # callers waiting for a slot now
        self.cuts = 0
        self.lowest = float(rate)

    @property
    def rate(self) -> float:
        """The rate calls start at now (calls/s, before SAFETY)."""
        return self._rate

    def wait(self, stop: Callable[[], bool] | None = None) -> float:
        """Block until this caller may start a request; returns its start time (pass it back).

        `stop` (read with the pacer's lock held: it must not call the pacer) is asked while
        waiting; when it says True, wait returns at once and the caller should give up.
        """
        urgent = is_urgent()
        with self._lock:
            self.waiting += 1
            try:
                return self._wait(urgent, stop)
            finally:
                self.waiting -= 1

    def _wait(self, urgent: bool, stop: Callable[[], bool] | None) -> float:
        """wait, with the pacer's lock held."""
        while True:
            slot = max(self._clock(), self._next)
            if urgent:
                # ahead of the ordinary callers already waiting: the first slot after the last start and
                # after the urgent callers before it; if that is before theirs, their slots are void and they
                # queue again behind it (urgent slots are never voided by another urgent caller)
                first = max(self._clock(), self._last_start + self.interval, self._resume, self._urgent_next)
                if first < slot:
                    slot = first
                    self._overtaken += 1
                    self._woken.notify_all()
                self._urgent_next = slot + self.interval
            self._next = slot + self.interval
            epoch, overtaken = self._epoch, self._overtaken
            while True:
                now = self._clock()
                if now >= slot:
                    self._last_start = max(self._last_start, slot)
                    self._starts.append(slot)
                    return slot
                if stop is not None and stop():
                    return now
                self._nap(slot - now)
                if self._epoch != epoch or not urgent and self._overtaken != overtaken:
                    break  # the pace changed, or an urgent caller took this slot, while this one slept: queue again

    def _nap(self, seconds: float) -> None:
        seconds = min(seconds, NAP)
        if self._sleep is None:
            self._woken.wait(seconds)
            return
        self._lock.release()
        try:
            self._sleep(seconds)
        finally:
            self._lock.acquire()

    def success(self, started: float | None = None) -> None:
        """A call that started at `started` was answered (anything but "slow down")."""
        with self._lock:
            now = self._clock()
            self.streak = 0
            if self._cap is not None and now - self._cut_at >= HOLD:
                self._cap = None  # long enough without a refusal: try higher again
            self._answered += 1
            if self._rate >= self.max_rate or self._answered < max(1.0, self._rate):
                return
            self._answered = 0
            if self._cap is None:
                new = min(self.max_rate, self._rate * SLOW_START)
            else:
                new = min(self.max_rate, self._rate * GROWTH, max(self._rate, self._cap))
            if new > self._rate:
                self._set_rate(new)
                self._push_back(now)

    def slow_down(self, started: float | None = None) -> bool:
        """The server refused a call that started at `started` as too fast.

        Returns True if this cut the rate, False for an echo of the last cut
        (the call started before it, at the old rate).
        """
        with self._lock:
            now = self._clock()
            at = now if started is None else started
            self._refusals.append(at)
            if started is not None and started < self._cut_at:
                return False
            # calls started in the second before this one and not refused (some may still be
            # on their way; counting them errs on the fast side, and the next refusal corrects it)
            got_through = (sum(1 for s in self._starts if at - WINDOW <= s < at)
                           - sum(1 for s in self._refusals if at - WINDOW <= s < at))
            r = self._rate
            if self.measure and 1 <= got_through < CUT_NEAR * r:  # far too fast: the server takes about that
                new = cap = float(got_through)
            elif self.measure and got_through >= 1:  # just too fast
                new, cap = CUT_NEAR * r, CAP * r
            else:  # how far off is unknown: halve
                new = CUT_BLIND * r
                # what got through is worth keeping as a cap only above the halved rate (the way
                # back up stops there); below it, it says nothing new
                seen = min(float(got_through), CAP * r)
                cap = seen if seen > new else self._cap
            new = max(self.min_rate, min(new, r))
            self._cap = None if cap is None else max(new, cap)
            self._set_rate(new)
            self._answered = 0
            self._cut_at = now
            self.streak += 1
            self.cuts += 1
            self.lowest = min(self.lowest, new)
            self._push_back(now)
            return True

    def penalise(self, seconds: float) -> None:
        """The server pushed back: no caller starts before `seconds` from now."""
        with self._lock:
            now = self._clock()
            self._resume = max(self._resume, now + max(0.0, seconds))
            self._push_back(now)

    def _push_back(self, now: float) -> None:
        # every slot handed out to a caller still asleep is void (it was given at the old pace):
        # those callers queue again, spaced at the new interval from the last start or the pause's end
        self._epoch += 1
        self._next = max(self._last_start + self.interval, self._resume)
        self._urgent_next = float("-inf")
        self._woken.notify_all()

    def _set_rate(self, rate: float) -> None:
        self._rate = rate
        self.interval = SAFETY / rate


def retry_pause(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds a refusal's headers ask the client to wait, or None if they don't say.

    Retry-After (seconds or an HTTP date) is the standard; Blockscout sends
    none but gives `x-ratelimit-reset` in *milliseconds* until its window
    resets (-1 means unknown). Absurd values are ignored, not obeyed.
    """
    if not headers:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None and when.tzinfo is not None:
                seconds = when.timestamp() - (time.time() if now is None else now)
                return min(max(0.0, seconds), MAX_PAUSE)
        else:
            if seconds >= 0:
                return min(seconds, MAX_PAUSE)
    value = headers.get("x-ratelimit-reset") or headers.get("X-RateLimit-Reset")
    if value:
        try:
            millis = float(value.strip())
        except ValueError:
            return None
        if 0 <= millis <= MAX_PAUSE * 1000:
            return millis / 1000
    return None
