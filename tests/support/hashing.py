"""Taking the hashing pool's slots from a test (authapi.passwords)."""

from __future__ import annotations

import threading

from authapi import passwords


class HeldSlot:
    """One of the app's hashing slots, held by a thread of the test until ``release``."""

    def __init__(self, app) -> None:
        self._started, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._occupy, args=(app,))
        self._thread.start()
        assert self._started.wait(60)

    def _hold(self) -> None:
        self._started.set()
        self._release.wait()

    def _occupy(self, app) -> None:
        with app.app_context():
            passwords._in_pool(self._hold)

    def release(self) -> None:
        self._release.set()
        self._thread.join()
