"""The one clock every expiry decision reads.

``CLOCK_OFFSET`` (seconds, testing only) lets a test run a second app "in the
future" against the same database and Redis, so lifetimes are checked through
HTTP without sleeping. Production refuses a non-zero offset.
"""

from __future__ import annotations

import time

from flask import current_app


def now() -> float:
    return time.time() + float(current_app.config["CLOCK_OFFSET"])
