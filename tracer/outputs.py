"""Output files are replaced, never half-written.

A nightly job overwrites yesterday's GraphML and report. If the disk fills
or the run is killed while writing, the analyst must still have yesterday's
file, not a truncated one that Gephi refuses (or, worse, opens with half the
graph). So a regular file is written beside its destination under a hidden
temporary name, flushed, and renamed over it (rename is atomic on POSIX),
keeping the old file's permissions and owner. A symlink is followed (its
target is replaced, the link stays); anything that is not a regular file
(/dev/stdout, a named pipe, a device) is written to directly, never replaced.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import InputError, OutputError


def write_atomically(path: str | os.PathLike[str], write: Callable[[Path], object]) -> list[Path]:
    """Call write(temporary path) and move what it wrote into place; returns the final paths.

    `write` may write sibling files derived from the name it is given (the CSV export writes
    NAME.nodes.csv beside NAME.csv): each is renamed to the same derivation of `path`.
    """
    if not str(path).strip():
        raise InputError("the output file name is empty")
    final = Path(os.path.realpath(path))  # through symlinks: replace the target, keep the link
    try:
        existing = final.stat()
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        try:  # /dev/stdout, a pipe, a device: write into it, never replace it
            return _paths(write(final), final)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    tag = f".{final.stem}.tracer-{os.getpid()}"
    temp = final.with_name(tag + final.suffix)
    try:
        written = _paths(write(temp), temp)
        moves = [(p, final.with_name(final.stem + p.name[len(tag):])) for p in written]
        for p, target in moves:
            _flush_to_disk(p)
            _keep_permissions(p, target)
        for p, target in moves:
            os.replace(p, target)
        return [target for _, target in moves]
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}; any previous file there is unchanged") \
            from None
    finally:
        for leftover in final.parent.iterdir() if final.parent.is_dir() else ():
            if leftover.name.startswith(tag):
                leftover.unlink(missing_ok=True)


def write_into_directory(path: str | os.PathLike[str], write: Callable[[Path], list[Path]]) -> list[Path]:
    """Call write(temporary folder) and move each file it wrote over its namesake in the directory `path`
    (made if missing); returns the final paths. The directory's other files are the analyst's: left alone.

    Each file is replaced atomically, as write_atomically does for one file: a run killed while writing leaves
    every earlier file whole (a kill between two renames can leave the set from two exports, never a
    truncated file)."""
    if not str(path).strip():
        raise InputError("the output directory name is empty")
    final = Path(os.path.realpath(path))
    if final.exists() and not final.is_dir():
        raise InputError(f"{path} is not a directory (a directory of files is written there)")
    try:
        final.mkdir(exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=".tracer-", dir=final))
    except OSError as exc:
        raise OutputError(f"cannot write into {path}: {exc.strerror or exc}") from None
    try:
        written = [Path(p) for p in write(temp)]
        for p in written:
            _flush_to_disk(p)
            _keep_permissions(p, final / p.name)
        for p in written:
            os.replace(p, final / p.name)
        return [final / p.name for p in written]
    except OSError as exc:
        raise OutputError(f"cannot write into {path}: {exc.strerror or exc}; the files there are unchanged") \
            from None
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _paths(result: object, default: Path) -> list[Path]:
    if isinstance(result, (str, Path)):
        return [Path(result)]
    if isinstance(result, (list, tuple)) and result:
        return [Path(p) for p in result]
    return [default]  # the writer wrote the one file it was given


def _keep_permissions(new: Path, old: Path) -> None:
    """The replacement keeps the replaced file's mode and owner (a private case file stays private)."""
    try:
        st = old.stat()
    except FileNotFoundError:
        return
    os.chmod(new, stat.S_IMODE(st.st_mode))
    if os.geteuid() == 0:
        os.chown(new, st.st_uid, st.st_gid)


def _flush_to_disk(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
