"""Output files are replaced, never half-written.

A nightly job overwrites yesterday's GraphML and report. If the disk fills
or the run is killed while writing, the analyst must still have yesterday's
file, not a truncated one that Gephi refuses (or, worse, opens with half the
graph). So every output is written beside its destination under a hidden
temporary name, flushed, and renamed over it: rename is atomic on POSIX.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import OutputError


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], object]) -> list[Path]:
    """Call write(temporary path) and move what it wrote into place; returns the final paths.

    `write` may write sibling files derived from the name it is given (the CSV export writes
    NAME.nodes.csv beside NAME.csv): each is renamed to the same derivation of `path`.
    """
    final = Path(path)
    tag = f".{final.stem}.tracer-{os.getpid()}"
    temp = final.with_name(tag + final.suffix)
    try:
        result = write(temp)
        written = [Path(p) for p in ([result] if isinstance(result, (str, Path)) else result or [temp])]
        moves = [(p, final.with_name(final.stem + p.name[len(tag):])) for p in written]
        for p, _ in moves:
            _flush_to_disk(p)
        for p, target in moves:
            os.replace(p, target)
        return [target for _, target in moves]
    except OSError as exc:
        raise OutputError(f"cannot write {final}: {exc.strerror or exc}; any previous file there is unchanged") \
            from None
    finally:
        for leftover in final.parent.iterdir() if final.parent.is_dir() else ():
            if leftover.name.startswith(tag):
                leftover.unlink(missing_ok=True)


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
