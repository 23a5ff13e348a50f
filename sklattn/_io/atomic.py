"""Crash-safe directory writes: build beside the target, fsync, swap in one step.

:func:`atomic_directory` yields an empty sibling directory
``.<name>.sklattn-tmp-<host>-<pid>-<random>``; when the caller has filled it,
every file and directory is fsynced and the sibling takes the target's place:

- no target yet: one ``rename``;
- on Linux: ``renameat2(RENAME_EXCHANGE)`` swaps old and new in one system
  call, then the old copy is deleted;
- elsewhere: the old directory is renamed aside
  (``.<name>.sklattn-old-...``) and the new one renamed in. A crash between
  those two renames leaves no target; :func:`recover_interrupted` (called by
  every load and save) renames the old copy back.

So at every instant the target is either the old complete directory or the
new complete one. Leftovers of killed writes are deleted by later saves.
"""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_TMP, _OLD = "sklattn-tmp", "sklattn-old"
_STALE_AFTER_S = 3600.0


def _sibling(target: Path, kind: str) -> Path:
    host = socket.gethostname().replace("-", "_") or "host"
    return target.parent / f".{target.name}.{kind}-{host}-{os.getpid()}-{secrets.token_hex(4)}"


def _siblings(target: Path, kind: str) -> list[Path]:
    return sorted(target.parent.glob(f".{target.name}.{kind}-*"))


def _fsync(path: Path, directory: bool = False) -> None:
    if directory and os.name == "nt":  # Windows cannot open directories
        return
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` (and ``root`` itself) to disk."""
    for folder, _, files in os.walk(root, topdown=False):
        for name in files:
            _fsync(Path(folder) / name)
        _fsync(Path(folder), directory=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # libc without renameat2 (e.g. old glibc, musl)
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # kernel or file system without RENAME_EXCHANGE
    raise OSError(code, os.strerror(code), str(b))


def _owner_gone(path: Path) -> bool:
    """Whether the save that created sibling ``path`` can no longer be running."""
    try:
        if time.time() - path.stat().st_mtime > _STALE_AFTER_S:
            return True
    except OSError:
        return False
    host, pid = path.name.rsplit("-", 3)[-3:-1]
    if os.name != "posix" or host != socket.gethostname().replace("-", "_") or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def recover_interrupted(target: Path, marker: str) -> None:
    """Put back the old directory when a save died between its two renames."""
    if target.exists():
        return
    candidates = [p for p in _siblings(target, _OLD) if (p / marker).is_file()]
    if not candidates:
        return
    newest = max(candidates, key=lambda p: p.stat().st_mtime)
    try:
        os.rename(newest, target)
    except OSError:
        return
    warnings.warn(
        f"{str(target)!r} was missing after an interrupted save; restored the previous "
        "version from its backup.", UserWarning, stacklevel=3,
    )


def _remove_leftovers(target: Path) -> None:
    for kind in (_TMP, _OLD):
        for path in _siblings(target, kind):
            if _owner_gone(path) and (kind == _TMP or target.exists()):
                shutil.rmtree(path, ignore_errors=True)


def check_replaceable(target: Path, marker: str, what: str) -> None:
    """Refuse to overwrite a file or a directory that sklattn did not write."""
    if target.is_dir():
        if any(target.iterdir()) and not (target / marker).is_file():
            raise ValueError(
                f"{str(target)!r} is a non-empty directory that is not a {what}; refusing "
                "to replace it. Choose a new path or an empty directory."
            )
    elif target.exists():
        raise ValueError(f"{str(target)!r} is a file; {what}s are directories. Choose another path.")


@contextmanager
def atomic_directory(target, marker: str, what: str) -> Iterator[Path]:
    """Yield an empty directory that replaces ``target`` atomically on success.

    Parameters
    ----------
    target : path-like
        Directory to create (with its parents) or replace. An existing one must
        be empty or hold ``marker`` (i.e. have been written by the same kind of save).
    marker : str
        File name identifying directories this kind of save may replace.
    what : str
        Name of the artefact in error messages (e.g. "sklattn model directory").
    """
    target = Path(os.path.abspath(Path(target).expanduser()))
    if target.is_symlink():
        target = target.resolve()
    if target.parent.exists() and not target.parent.is_dir():
        raise ValueError(f"cannot save to {str(target)!r}: {str(target.parent)!r} is a file.")
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_interrupted(target, marker)
    check_replaceable(target, marker, what)
    _remove_leftovers(target)
    staging = _sibling(target, _TMP)
    staging.mkdir()
    try:
        yield staging
        fsync_tree(staging)
        _commit(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _commit(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        _fsync(target.parent, directory=True)
        shutil.rmtree(staging, ignore_errors=True)  # now the old directory
    else:
        backup = _sibling(target, _OLD)
        os.rename(target, backup)
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(backup, target)
            raise
        _fsync(target.parent, directory=True)
        shutil.rmtree(backup, ignore_errors=True)
    _fsync(target.parent, directory=True)
