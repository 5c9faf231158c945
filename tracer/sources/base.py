"""What the tracer asks of a source, whatever it is (explorer API, JSON-RPC node, or both)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ..models import Transfer
from ..records import RejectedRecord


@dataclass(frozen=True, slots=True)
class FetchTask:
    """Blocks [start, end] of one kind of history ("action") of one address."""

    address: str
    action: str
    start: int
    end: int


class Source(Protocol):
    name: str
    actions: tuple[str, ...]  # the histories it keeps cursors for, e.g. txlist/txlistinternal/tokentx

    @property
    def requests(self) -> int: ...

    @property
    def rate_limited(self) -> int: ...

    @property
    def rejected(self) -> list[RejectedRecord]:
        """Records skipped so far because they were malformed or out of place.

        A record the source could not trust (a negative, huge or non-integer
        value, a bad hash or address, a missing field, a row that is not an
        object, a block outside the range asked for, neither side the address
        asked for) is never stored and never stops the fetch: it is skipped
        and listed here, in the order met, with the address and history
        (action) it came from, its transaction when readable and the reason
        (records.RejectedRecord; reasons are short and printable). It grows
        over the source's life (a run's share is what it gained during the
        run); wrappers return a fresh list merging the sources they wrap.
        Treat it as read-only; take a copy (list(source.rejected)) while
        fetches may still be running.
        """
        ...

    def head_block(self) -> int: ...

    def codes(self, addresses: list[str]) -> Iterator[tuple[str, str]]:
        """(address, code hex) as each is known."""
        ...

    def receipts(self, tx_hashes: list[str]) -> Iterator[tuple[str, dict | None]]:
        """(hash, receipt or None) for transactions whose logs say where funds exited."""
        ...

    def fetch(self, tasks: list[FetchTask]) -> Iterator[tuple[FetchTask, list[Transfer]]]:
        """Each task with its transfers, as tasks complete (in any order).

        A source may answer many tasks with one query (a node takes the whole
        frontier at once); the tracer only needs to know when each is done.
        """
        ...

    def close(self) -> None: ...

    # Optional, looked up with hasattr by the tracer:
    # probes(requests)            explorer: first txlist pages that tell accounts from contracts
    # balances(addresses), token_balances(pairs)   the nightly balance screen
    # logs(address, topic0, a, b), transactions(hashes)   mixer-withdrawal candidates
    # actions_for(node), head_for(node), block_at(chain, t)   other chains (--follow-bridges)


def group_by_task(transfers: Iterable[Transfer], tasks: list[FetchTask]) -> dict[FetchTask, list[Transfer]]:
    """Hand each transfer to every task (address and block range) it belongs to."""
    by_address: dict[str, list[FetchTask]] = {}
    for task in tasks:
        by_address.setdefault(task.address, []).append(task)
    out: dict[FetchTask, list[Transfer]] = {task: [] for task in tasks}
    for t in transfers:
        for side in {t.from_addr, t.to_addr}:
            for task in by_address.get(side, ()):
                if task.start <= t.block <= task.end:
                    out[task].append(t)
    return out
