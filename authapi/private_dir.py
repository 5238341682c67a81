"""A private directory for files the server writes (Prometheus multiprocess files).

Standard library only, and importing nothing from authapi: ``gunicorn.conf.py`` runs
it before any worker (or prometheus_client) starts.

A folder in the shared temporary directory could have been made by someone else
first: as a link to a directory of ours (whose files the server would then delete
and overwrite) or as their own directory (whose files they could rewrite). So the
folder is created with mode 0700, and an existing one is refused unless it is a real
directory, owned by this user, that nobody else may write to.
"""

from __future__ import annotations

import contextlib
import os
import stat


class UnsafeDirectory(RuntimeError):
    """The directory exists but is not safely ours; the message says why."""


def check_private_dir(path: str) -> None:
    """Raise UnsafeDirectory unless ``path`` is a directory (not a link), owned by the
    effective user, and not writable by group or others."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise UnsafeDirectory(f"{path!r} does not exist") from None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeDirectory(f"{path!r} is a symbolic link: use a private directory")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(f"{path!r} is not a directory")
    if info.st_uid != os.geteuid():
        raise UnsafeDirectory(f"{path!r} belongs to another user (uid {info.st_uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafeDirectory(f"{path!r} is writable by other users: chmod 700 it")


def ensure_private_dir(path: str) -> str:
    """Create ``path`` with mode 0700 if missing (never following a link), then check it."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    check_private_dir(path)
    return path
