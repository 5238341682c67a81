"""Count the commands an app sends to Redis, whichever way they go out."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask


def count_redis_commands(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on (until the test ends), the name of every command the app's Redis
    client sends, in order: its connection class's ``send_command`` sees pipelines and
    scripts run on the pool too. Clear the list between the steps a test counts."""
    connection_class = app.extensions["redis"].connection_pool.connection_class
    calls: list[str] = []
    real = connection_class.send_command

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(args[0]))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(connection_class, "send_command", counting)
    return calls
