"""The one clock every expiry decision reads.

``CLOCK_OFFSET`` (seconds, testing only) lets a test run a second app "in the
future" against the same database and Redis, so lifetimes are checked through
HTTP without sleeping. ``CLOCK_FROZEN_AT`` (UNIX seconds, testing only) stops it
at one instant, for checks that depend on where "now" falls within a period (TOTP
time steps). Production refuses both.
"""

from __future__ import annotations

import time

from flask import current_app


def now() -> float:
    config = current_app.config  # one proxy lookup: every authenticated request asks
    frozen = float(config.get("CLOCK_FROZEN_AT") or 0)
    if frozen:
        return frozen
    return time.time() + float(config["CLOCK_OFFSET"])
