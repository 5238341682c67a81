"""The rules a new password must meet (registration, password change, reset, CLI).

The only place they live: the marshmallow validator ``schemas.validate_new_password``
calls :func:`check_new_password`, so every schema with a new password applies all of
them, before any service function runs (a refused password never uses up a reset
token). NIST SP 800-63B: a length range, no composition rules; refuse common and
breached passwords; optionally a minimum zxcvbn strength.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from flask import current_app
from marshmallow import ValidationError

from authapi import pwned
from authapi.passwords import MAX_PASSWORD_BYTES

PASSWORD_MIN = 8
ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters are scored

TOO_COMMON = "This password is too common: choose a less predictable one"
BREACHED = (
    "This password has appeared in a data breach, so attackers try it first: choose another one"
)
TOO_WEAK = "This password is too easy to guess: choose a longer or less predictable one"


class WordList:
    """A fixed set of words kept as one string, a word per line.

    A worker keeps the common-password list for its whole life once a password has been
    set: as a frozenset its 11,611 words were 11,611 str objects, about 1.2 MB of heap
    (4-6 MB of a worker's RSS once the list had been built). In one string they are
    109 KB, and a lookup is a substring search of it (tens of microseconds, next to a
    password hash of hundreds of milliseconds).
    """

    __slots__ = ("_lines",)

    def __init__(self, words: Iterable[str]) -> None:
        kept = "\n".join(word for word in words if word and "\n" not in word)
        self._lines = f"\n{kept}\n" if kept else "\n"

    @classmethod
    def read(cls, path: Path) -> WordList:
        """The words of a UTF-8 file holding one per line, read as one string: nothing
        else is allocated on the way (each word as an object, then joined, left a
        worker 1.5-4 MB larger for good: docs/performance.md, change 24)."""
        text = path.read_text(encoding="utf-8")
        found = cls.__new__(cls)
        found._lines = f"\n{text}" if text.endswith("\n") else f"\n{text}\n"
        return found

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word or "\n" in word:
            return False
        return f"\n{word}\n" in self._lines

    def __iter__(self) -> Iterator[str]:
        return (word for word in self._lines.split("\n") if word)


# zxcvbn's list of the 30,000 most common passwords (from leaked password sets; the
# zxcvbn package, MIT licence), minus those shorter than the minimum anyway: 11,611
# words. A copy, as importing zxcvbn builds all six of its lists (12 MB a worker would
# keep for good); tests/test_password_policy.py checks it against the zxcvbn installed.
COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common_passwords.txt"


@lru_cache(maxsize=1)
def common_passwords() -> WordList:
    """The common-password list, read when a password is first set."""
    return WordList.read(COMMON_PASSWORDS_FILE)


def max_length_problem(value: str) -> str | None:
    """bcrypt takes 72 bytes of UTF-8; argon2id a plain maximum of characters."""
    if current_app.config["PASSWORD_HASHER"] == "bcrypt":
        if len(value.encode("utf-8")) > MAX_PASSWORD_BYTES:
            return f"Password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8"
        return None
    limit = int(current_app.config["PASSWORD_MAX_LENGTH"])
    if len(value) > limit:
        return f"Password must be at most {limit} characters"
    return None


def _strength(value: str) -> int:
    """zxcvbn's score, 0 (guessable) to 4."""
    from zxcvbn import zxcvbn

    return int(zxcvbn(value)["score"])


def check_new_password(value: str) -> None:
    """Raise ValidationError with the first rule the password breaks."""
    if len(value) < PASSWORD_MIN:
        raise ValidationError(f"Password must be at least {PASSWORD_MIN} characters")
    problem = max_length_problem(value)
    if problem:
        raise ValidationError(problem)
    if "\x00" in value:
        raise ValidationError("Password must not contain NUL characters")
    config = current_app.config
    if config["PASSWORD_COMMON_CHECK"] and value.lower() in common_passwords():
        raise ValidationError(TOO_COMMON)
    minimum = int(config["PASSWORD_MIN_STRENGTH"])
    if minimum and _strength(value[:ZXCVBN_MAX]) < minimum:
        raise ValidationError(TOO_WEAK)
    if pwned.enabled() and pwned.is_pwned(value):
        raise ValidationError(BREACHED)
