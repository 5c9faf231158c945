"""Adaptive pacing (issue 11, D14): a --rate above the server's settles at the server's.

A tiny local server enforces N calls per sliding second and refuses the rest
exactly as the real services do (see /work/shared/notes/explorer-dialects.md):

- Etherscan V2: HTTP 200, {"status":"0","message":"NOTOK","result":"Max calls per sec rate limit reached (3/sec)"};
- Blockscout: HTTP 429, {"status":"0","message":"Too many requests. Increase limits now at
  https://dev.blockscout.com","result":null}, x-ratelimit-reset in milliseconds, no Retry-After.

The real ExplorerClient, asked for 50 calls/s, must get every call done at about
the server's rate with few refusals, and still give up on a server that refuses forever.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tracer.errors import RateLimitError
from tracer.sources.base import FetchTask
from tracer.sources.explorer import Endpoint, ExplorerClient
from tracer.sources.jsonrpc import JsonRpcClient
from tracer.sources.pacing import MAX_PAUSE, Pacer, retry_pause

ETHERSCAN_REFUSAL = {"status": "0", "message": "NOTOK", "result": "Max calls per sec rate limit reached (3/sec)"}
BLOCKSCOUT_REFUSAL = {"status": "0", "message": "Too many requests. Increase limits now at https://dev.blockscout.com",
                      "result": None}


class LimitedServer:
    """Answers tokenbalance and account lists; refuses calls past `limit` in any sliding second.

    dialect "etherscan" refuses with HTTP 200 and the NOTOK body, "blockscout" with HTTP 429, its
    JSON body and x-ratelimit-* headers (reset in ms), "jsonrpc" with HTTP 429 and Retry-After
    (a node provider). Refused calls do not count toward the limit.
    """

    def __init__(self, limit: int, dialect: str, latency: float = 0.0):
        self.limit = limit
        self.dialect = dialect
        self.latency = latency  # seconds between a call's arrival (when it is counted) and its answer
        self.accepted: list[float] = []  # arrival times of answered calls
        self.refused = 0
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                server._handle(self, None)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server._handle(self, json.loads(body))

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that gave up mid-answer: not news
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def _admit(self) -> tuple[bool, int]:
        """(allowed, ms until a slot frees up)."""
        with self._lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.limit:
                self.refused += 1
                oldest = self._recent[0] if self._recent else now
                # ms until the oldest call in the window ages out (a server refusing everything: 250)
                return False, max(1, math.ceil((oldest + 1.0 - now) * 1000)) if self._recent else 250
            self._recent.append(now)
            self.accepted.append(now)
            return True, 0

    def _reply(self, h, status: int, obj, headers: dict | None = None) -> None:
        body = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h, rpc) -> None:
        allowed, reset_ms = self._admit()
        if self.latency:
            time.sleep(self.latency)
        if not allowed:
            if self.dialect == "etherscan":
                return self._reply(h, 200, ETHERSCAN_REFUSAL)
            if self.dialect == "blockscout":
                return self._reply(h, 429, BLOCKSCOUT_REFUSAL, {
                    "x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(reset_ms), "bypass-429-option": "no_bypass"})
            return self._reply(h, 429, {"jsonrpc": "2.0", "id": 1, "error": {"code": 429, "message": "Too Many Requests"}},
                               {"Retry-After": "0.5"})
        if rpc is not None:
            return self._reply(h, 200, {"jsonrpc": "2.0", "id": rpc.get("id", 1), "result": "0x10"})
        q = {k: v[0] for k, v in parse_qs(urlsplit(h.path).query).items()}
        headers = {}
        if self.dialect == "blockscout":
            headers = {"x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": "1", "x-ratelimit-reset": "1000"}
        if q.get("action") == "tokenbalance":
            return self._reply(h, 200, {"status": "1", "message": "OK", "result": str(_balance_of(q["address"]))},
                               headers)
        if q.get("action") == "txlist":
            return self._reply(h, 200, {"status": "0", "message": "No transactions found", "result": []}, headers)
        return self._reply(h, 400, {"status": "0", "message": "Unknown action", "result": None}, headers)


def _balance_of(address: str) -> int:
    return int(address[-6:], 16) * 7


def _address(i: int) -> str:
    return "0x" + f"{i:040x}"


def _steady_rate(times: list[float]) -> float:
    """Answered calls per second over the second half of the run."""
    half = times[len(times) // 2:]
    return (len(half) - 1) / (half[-1] - half[0])


# ---- the real client against a 3/s server, asked for 50/s --------------------------------
@pytest.mark.parametrize("dialect", ["etherscan", "blockscout"])
def test_rate_50_against_a_3_per_second_server_gets_everything_at_the_servers_rate(dialect):
    calls = 21
    with LimitedServer(3, dialect) as server:
        client = ExplorerClient(Endpoint(server.url, None, 5.0, "t", "etherscan"), rate=50, timeout=5.0)
        pairs = [(_address(i), _address(10_000 + i)) for i in range(calls - 3)]
        tasks = [FetchTask(_address(i), "txlist", 0, 100) for i in range(3)]
        t0 = time.monotonic()
        try:
            balances = client.token_balances(pairs)
            fetched = list(client.fetch(tasks))
        finally:
            client.close()
        elapsed = time.monotonic() - t0
    print(f"\n{dialect}: {calls} calls in {elapsed:.1f} s, {server.refused} refused, "
          f"steady {_steady_rate(server.accepted):.2f}/s, pacer at {client.pacer.rate:.2f}/s "
          f"(lowest {client.pacer.lowest:.2f}, {client.pacer.cuts} cuts)")
    assert balances == {p: _balance_of(p[0]) for p in pairs}  # every call done, and right
    assert sorted(t.address for t, rows in fetched) == [t.address for t in tasks]
    assert len(server.accepted) == calls
    assert client.stats.rate_limited == server.refused
    assert server.refused <= 10  # a handful while finding the rate, not one per call
    assert 2.0 <= _steady_rate(server.accepted) <= 3.4  # the server's rate, give or take jitter
    assert elapsed < calls / 3 + 6
    assert 2.0 <= client.pacer.rate <= 3.2


@pytest.mark.parametrize("dialect", ["etherscan", "blockscout"])
def test_a_server_that_never_recovers_still_ends_in_a_clear_error(dialect):
    with LimitedServer(0, dialect) as server:  # refuses everything
        client = ExplorerClient(Endpoint(server.url, None, 5.0, "t", "etherscan"), rate=50, timeout=5.0,
                                rate_limit_retries=3, throttle_pause=0.05)
        t0 = time.monotonic()
        try:
            with pytest.raises(RateLimitError, match="rate limit"):
                client.token_balances([(_address(i), _address(1)) for i in range(20)])
        finally:
            client.close()
        elapsed = time.monotonic() - t0
    # 3 pauses (Blockscout's x-ratelimit-reset says 250 ms), then the 4th cut gives up, and so does every
    # call waiting for its turn: close() does not wait for them to try
    assert elapsed < 4
    assert server.refused <= 20


def test_the_json_rpc_client_slows_down_too():
    with LimitedServer(5, "jsonrpc") as server:  # HTTP 429 with Retry-After: 0.5
        client = JsonRpcClient(server.url, rate=50, timeout=5.0)
        t0 = time.monotonic()
        results = [client.call("eth_blockNumber", []) for _ in range(15)]
        elapsed = time.monotonic() - t0
    print(f"\njson-rpc: 15 calls in {elapsed:.1f} s, {server.refused} refused, pacer at {client.pacer.rate:.2f}/s")
    assert results == ["0x10"] * 15
    assert server.refused == client.stats.rate_limited <= 5  # halving from 50 to below 5, then no more
    assert 2.5 <= client.pacer.rate <= 5
    assert elapsed < 8


# ---- the pacer alone, on a fake clock ------------------------------------------------------
class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.on_sleep = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.on_sleep:
            hook, self.on_sleep = self.on_sleep, None
            hook()
        self.now += seconds


def pacer(rate: float, **kw) -> tuple[Pacer, FakeClock]:
    clock = FakeClock()
    return Pacer(rate, clock=clock, sleep=clock.sleep, **kw), clock


def test_starts_are_spaced_one_interval_apart():
    p, clock = pacer(10)
    starts = [p.wait() for _ in range(4)]
    assert starts == pytest.approx([0, 0.103, 0.206, 0.309])


def test_a_refusal_after_answers_drops_to_what_got_through():
    p, clock = pacer(50)
    for _ in range(3):
        p.success(p.wait())  # 3 calls answered...
    refused = p.wait()  # ...the 4th refused: the server takes 3 a second
    assert p.slow_down(refused)
    assert p.rate == 3 and p.cuts == 1 and p.streak == 1


def test_a_refusal_with_nothing_answered_halves_down_to_the_floor():
    p, clock = pacer(8)
    rates = []
    for _ in range(8):
        clock.now += 2
        p.slow_down(p.wait())
        rates.append(p.rate)
    assert rates[:3] == [4, 2, 1]
    assert min(rates) == 0.2 and p.streak == 8
    p.success(p.wait())
    assert p.streak == 0


def test_refusals_of_calls_started_before_the_cut_are_echoes():
    p, clock = pacer(50)
    early = [p.wait() for _ in range(5)]
    clock.now += 0.01
    assert p.slow_down(early[0])
    rate = p.rate
    assert not any(p.slow_down(s) for s in early[1:])  # the same overload, already answered
    assert p.rate == rate and p.cuts == 1


def test_close_to_the_limit_the_step_down_is_small():
    p, clock = pacer(3.2)
    for _ in range(3):
        p.success(p.wait())
    p.slow_down(p.wait())
    assert p.rate == pytest.approx(3.2 * 0.9)


def test_answers_keep_the_rate_the_server_took_then_climb_back_to_the_ceiling():
    p, clock = pacer(50)
    for _ in range(3):
        p.success(p.wait())
    p.slow_down(p.wait())
    assert p.rate == 3
    for _ in range(60):  # 20 s of answers
        p.success(p.wait())
    assert p.rate == 3  # what the server took, held
    clock.now += 11  # HOLD seconds since the cut, without a refusal: probe higher again
    rates = []
    for _ in range(300):
        p.success(p.wait())
        rates.append(p.rate)
    assert rates[2] == 6 and rates[-1] == 50  # one step per second's worth (3 answers at 3/s)
    assert all(b / a in (1, 2) or b == 50 for a, b in zip(rates, rates[1:]))  # no cap any more: doubling


def test_just_above_the_limit_the_rate_steps_down_and_stays_below_it():
    p, clock = pacer(3.2)
    for _ in range(3):
        p.success(p.wait())
    p.slow_down(p.wait())
    for _ in range(60):
        p.success(p.wait())
    assert p.rate == pytest.approx(0.95 * 3.2)  # grown back, but not to the rate refused


def test_growth_is_one_step_per_seconds_worth_of_answers():
    p, clock = pacer(100)
    clock.now = 10
    p.slow_down(p.wait())  # blind: 50, and no cap
    for _ in range(49):
        p.success(p.wait())
    assert p.rate == 50
    p.success(p.wait())
    assert p.rate == 100


def test_below_a_cap_growth_is_a_quarter_at_a_time():
    p, clock = pacer(50)
    for _ in range(20):
        p.success(p.wait())  # 20 answered in the last 0.4 s at 50/s
    p.slow_down(p.wait())
    assert p.rate == 20
    clock.now += 1
    p.slow_down(p.wait())  # nothing through in the last second: halve, the cap stays
    assert p.rate == 10
    rates = []
    for _ in range(80):
        p.success(p.wait())
        rates.append(p.rate)
    assert rates[9] == 12.5 and rates[-1] == 20  # 12.5, 15.6, 19.5, then the cap


def test_a_pacer_told_not_to_measure_always_halves_but_keeps_what_got_through_as_a_cap():
    p, clock = pacer(50, measure=False)  # the node client: one request may be a batch of many calls
    for _ in range(3):
        p.success(p.wait())
    p.slow_down(p.wait())
    assert p.rate == 25  # 3 got through: below the halved rate, no cap
    clock.now += 1
    for _ in range(5):
        p.success(p.wait())
    p.slow_down(p.wait())
    p.slow_down(p.wait())
    assert p.rate == 6.25
    for _ in range(5):
        p.success(p.wait())
    p.slow_down(p.wait())  # 5 got through in the last second, refused at 6.25
    assert p.rate == 3.125
    for _ in range(50):
        p.success(p.wait())
    assert p.rate == 5  # back up to what got through, and no further


def test_a_pause_wakes_callers_already_waiting_and_queues_them_behind_it():
    p, clock = pacer(10)
    p.wait()  # slot 0
    clock.on_sleep = lambda: p.penalise(2.0)  # another caller's refusal while this one sleeps
    start = p.wait()  # its slot (0.103) was given before the pause: void
    assert start == pytest.approx(2.0)
    assert p.wait() == pytest.approx(2.103)


def test_penalise_never_shortens_a_longer_pause():
    p, clock = pacer(10)
    p.penalise(5.0)
    p.penalise(1.0)
    assert p.wait() == pytest.approx(5.0)


def test_retry_pause_reads_retry_after_and_blockscouts_millisecond_reset():
    assert retry_pause({"Retry-After": "2"}) == 2.0
    assert retry_pause({"retry-after": "0.5"}) == 0.5
    assert retry_pause({"Retry-After": "100000"}) == MAX_PAUSE
    now = time.time()
    assert retry_pause({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30, abs=1)
    assert retry_pause({"x-ratelimit-reset": "1500"}) == 1.5  # Blockscout: milliseconds
    assert retry_pause({"x-ratelimit-reset": "-1"}) is None  # Blockscout: unlimited / unknown
    assert retry_pause({"x-ratelimit-reset": "1767225600"}) is None  # an epoch, not ms: not obeyed
    assert retry_pause({"x-ratelimit-reset": "soon"}) is None
    assert retry_pause({}) is None and retry_pause(None) is None


def test_an_urgent_caller_starts_before_the_ordinary_callers_already_waiting_and_the_rate_holds():
    """A hop's balance screen must not queue behind a hundred list pages: it takes the next free slot, the
    callers it passes queue again behind it, and starts stay one interval apart whatever the order."""
    from tracer.sources.pacing import urgent

    pacer = Pacer(20.0)  # 0.0515 s between starts
    starts: list[tuple[float, str]] = []
    lock = threading.Lock()

    def ordinary() -> None:
        for _ in range(6):
            started = pacer.wait()
            with lock:
                starts.append((started, "n"))
            pacer.success(started)

    def hurried() -> None:
        time.sleep(0.2)  # the ordinary callers hold slots well ahead by now
        with urgent():
            for _ in range(3):
                started = pacer.wait()
                with lock:
                    starts.append((started, "u"))
                pacer.success(started)

    threads = [threading.Thread(target=ordinary) for _ in range(8)] + [threading.Thread(target=hurried)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    starts.sort()
    assert len(starts) == 51
    gaps = [b[0] - a[0] for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= pacer.interval - 1e-6  # never faster than the rate
    urgent_at = [i for i, (_, kind) in enumerate(starts) if kind == "u"]
    # 48 ordinary calls were queued; the three urgent ones started one after the other soon after they asked
    assert urgent_at == list(range(urgent_at[0], urgent_at[0] + 3)) and urgent_at[0] <= 8, urgent_at
