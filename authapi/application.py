"""The Flask class the app is built from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


class AuthAPI(Flask):
    """Flask, remembering per function what ``ensure_sync`` answered.

    Flask passes every hook and view through ``ensure_sync`` on every request, and each
    call asks ``inspect.iscoroutinefunction`` (a few microseconds): six times per request
    here (the caller hook, the view, CORS, the access line, the two database-session
    teardowns) against once for a bare Flask route, about a tenth of the trivial route's
    CPU in one process (docs/performance.md). The answer never changes for a function,
    and the functions are the app's own hooks and views, a fixed set, so it is kept.
    Flask documents this method as the one to override.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._synchronous: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._synchronous[func]
        except KeyError:
            synchronous = self._synchronous[func] = super().ensure_sync(func)
            return synchronous
        except TypeError:  # an unhashable callable: asked every time, as Flask does
            return super().ensure_sync(func)
