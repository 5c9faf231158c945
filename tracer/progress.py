"""Progress on a terminal; silence everywhere else.

A nightly cron job must not fill its mail with progress bars, so the
bars appear only when stderr is a TTY and --quiet is not given.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol


class Progress(Protocol):
    def start_stage(self, description: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def set_requests(self, requests: int) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    def start_stage(self, description: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def set_requests(self, requests: int) -> None:
        pass

    def finish(self) -> None:
        pass


class RichProgress:
    """One bar per stage (a hop's histories, its code checks) with done / total, requests, rate and an ETA."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[requests]} requests, {task.fields[rate]}/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),  # a case of 10,000 seeds runs for hours: when will this stage end?
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = None
        self._t0 = time.monotonic()
        self._requests = 0

    def start_stage(self, description: str, total: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=self._progress.tasks[-1].total)
        self._task = self._progress.add_task(description, total=total, requests=self._requests, rate="0.0")

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)

    def set_requests(self, requests: int) -> None:
        self._requests = requests
        if self._task is not None:
            elapsed = max(time.monotonic() - self._t0, 1e-6)
            self._progress.update(self._task, requests=requests, rate=f"{requests / elapsed:.1f}")

    def finish(self) -> None:
        self._progress.stop()


def make_progress(quiet: bool) -> Progress:
    if quiet or not sys.stderr.isatty():
        return NullProgress()
    return RichProgress()
