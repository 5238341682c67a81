"""Moving users in and out: ``flask users import FILE`` and ``flask users export``.

One format both ways, JSON Lines or CSV, with the columns ``email, name,
password_hash, role, verified, created_at`` (the first three required). Hashes are
copied, never computed: any format :mod:`authapi.hashers` knows is accepted and is
upgraded at the user's next login.

An import is all or nothing. Every row is read and checked first (the rules of
registration for email and name, a known hash format with sane parameters, no
duplicate inside the file, and none already in the database unless
``on_conflict="skip"``); one bad row refuses the whole file, each bad row reported
with its line number. Only then are the rows inserted, in batches of INSERTs inside
ONE transaction: a failure half-way (the database going away, a concurrent
registration of the same address) rolls everything back, so nothing half-written
ever remains.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from marshmallow import ValidationError
from sqlalchemy import insert, select

from authapi import hashers, passwords
from authapi.extensions import db
from authapi.models import Role, User
from authapi.schemas import RegisterSchema

COLUMNS = ("email", "name", "password_hash", "role", "verified", "created_at")
REQUIRED = ("email", "name", "password_hash")
FORMATS = ("jsonl", "csv")
HASH_MAX = 255  # users.password
LOOKUP_CHUNK = 1000

# Registration's own rules for the two fields a file shares with it.
_identity_schema = RegisterSchema(only=("name", "email"))


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class ImportRefused(Exception):
    """The file has bad rows (or is unreadable): nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = errors


@dataclass
class CheckedFile:
    """A file whose every row passed: the rows to insert, the lines skipped."""

    rows: list[dict[str, Any]]
    skipped: list[int] = field(default_factory=list)  # already have an account


def format_for(path: Path, given: str | None) -> str:
    """The file format: as given, else from the extension (.csv; .jsonl/.ndjson/.json)."""
    if given:
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise ValueError(f"cannot tell the format of {path.name}: give --format jsonl or csv")


# --- reading ---


class _NotUtf8(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def decoded_lines(binary: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 lines (a BOM at the start is dropped); _NotUtf8 names the first bad line."""
    for number, raw in enumerate(binary, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8(number) from None
        yield text.removeprefix("\ufeff") if number == 1 else text


def _jsonl_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except (ValueError, RecursionError):
            yield number, RowError(number, "not valid JSON")
            continue
        if not isinstance(row, dict):
            yield number, RowError(number, "each line must be a JSON object")
            continue
        yield number, row


def _csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        yield 1, RowError(1, f"malformed CSV: {error}")
        return
    if header is None:
        return
    header = [name.strip() for name in header]
    if len(set(header)) != len(header):
        yield 1, RowError(1, "a column appears twice in the header")
        return
    yield 1, {name: "" for name in header}  # the header is checked like a row's columns
    while True:
        start = reader.line_num + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield start, RowError(start, f"malformed CSV: {error}")
            return
        if not any(value.strip() for value in values):
            continue
        if len(values) != len(header):
            yield start, RowError(start, f"{len(values)} fields but {len(header)} columns")
            continue
        # An empty CSV cell is an absent value (JSON Lines can say null or omit it).
        yield start, {name: value for name, value in zip(header, values, strict=True) if value}


def _columns_problem(row: dict[str, Any]) -> str | None:
    unknown = sorted(set(row) - set(COLUMNS))
    if unknown:
        return f"unknown column(s): {', '.join(unknown)} (allowed: {', '.join(COLUMNS)})"
    return None


# --- checking one row ---


def _verified(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise ValueError("verified must be true or false")


def _created_at(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("created_at must be an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError("created_at must be an ISO 8601 date and time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _password_hash(value: Any, settings: hashers.HashSettings) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("password_hash is required")
    if len(value) > HASH_MAX or not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError(f"password_hash must be at most {HASH_MAX} printable ASCII characters")
    found = hashers.identify(value)
    if found is None:
        raise ValueError(
            "password_hash is in no known format (bcrypt, argon2, Werkzeug pbkdf2/scrypt, "
            "Django pbkdf2_sha256/bcrypt_sha256, passlib pbkdf2, Firebase scrypt, "
            "flask-security$)"
        )
    try:
        found.check_importable(value, settings)
    except hashers.MalformedHash as error:
        raise ValueError(f"password_hash: {error}") from None
    return value


def _check_row(row: dict[str, Any], settings: hashers.HashSettings) -> dict[str, Any]:
    """The values to insert, or ValueError with every problem of the row."""
    problems: list[str] = []
    missing = [name for name in REQUIRED if row.get(name) in (None, "")]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    identity = {name: row[name] for name in ("name", "email") if row.get(name) is not None}
    try:
        checked = _identity_schema.load(identity)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {}
        for name, texts in messages.items():
            if name not in missing:
                problems.append(f"{name}: {' '.join(map(str, texts))}")
        checked = {}
    values: dict[str, Any] = {
        "email": checked.get("email"),
        "name": str(checked.get("name", "")).strip(),
    }
    for name, convert, default in (
        ("password_hash", lambda value: _password_hash(value, settings), None),
        ("role", lambda value: Role(value), Role.USER),
        ("verified", _verified, False),
        ("created_at", _created_at, None),
    ):
        raw = row.get(name)
        if raw is None or raw == "":
            values[name] = default
            continue
        try:
            values[name] = convert(raw)
        except ValueError as error:
            text = str(error) if name != "role" else "role must be user or admin"
            problems.append(text)
    if problems:
        raise ValueError("; ".join(problems))
    return values


# --- importing ---


def _existing_emails(emails: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(emails), LOOKUP_CHUNK):
        chunk = emails[start : start + LOOKUP_CHUNK]
        found.update(db.session.scalars(select(User.email).where(User.email.in_(chunk))))
    return found


def read_and_check(
    lines: Iterable[str], file_format: str, *, on_conflict: str
) -> tuple[list[tuple[int, dict[str, Any]]], list[int]]:
    """Every row checked: (line, values) to insert and the lines skipped as conflicts.

    Raises ImportRefused listing every bad row.
    """
    settings = passwords.hash_settings()
    rows = _jsonl_rows(lines) if file_format == "jsonl" else _csv_rows(lines)
    errors: list[RowError] = []
    checked: list[tuple[int, dict[str, Any]]] = []
    first_line: dict[str, int] = {}
    header_checked = file_format != "csv"
    try:
        for line, row in rows:
            if isinstance(row, RowError):
                errors.append(row)
                continue
            problem = _columns_problem(row)
            if not header_checked:
                header_checked = True
                missing = [name for name in REQUIRED if name not in row]
                if problem or missing:
                    errors.append(RowError(line, problem or f"missing column(s): {missing}"))
                    break  # every row would repeat it
                continue
            if problem:
                errors.append(RowError(line, problem))
                continue
            try:
                values = _check_row(row, settings)
            except ValueError as error:
                errors.append(RowError(line, str(error)))
                continue
            earlier = first_line.setdefault(values["email"], line)
            if earlier != line:
                errors.append(RowError(line, f"{values['email']} is also on line {earlier}"))
                continue
            checked.append((line, values))
    except _NotUtf8 as error:
        errors.append(RowError(error.line, "not UTF-8 text"))
    existing = _existing_emails([values["email"] for _, values in checked])
    skipped = [line for line, values in checked if values["email"] in existing]
    if existing and on_conflict == "fail":
        errors += [
            RowError(line, f"{values['email']} already has an account")
            for line, values in checked
            if values["email"] in existing
        ]
    if errors:
        raise ImportRefused(sorted(errors, key=lambda error: error.line))
    return [(line, values) for line, values in checked if values["email"] not in existing], skipped


def _record(values: dict[str, Any], now: datetime) -> dict[str, Any]:
    created = values["created_at"] or now
    return {
        "id": uuid.uuid4(),
        "email": values["email"],
        "name": values["name"],
        "password": values["password_hash"],
        "role": values["role"],
        "photo": "default.png",
        "verified": values["verified"],
        "disabled": False,
        "created_at": created,
        "updated_at": created,
    }


def check_file(path: Path, file_format: str, *, on_conflict: str = "fail") -> CheckedFile:
    """Read and check a whole file; ImportRefused lists every bad row."""
    with path.open("rb") as binary:
        rows, skipped = read_and_check(decoded_lines(binary), file_format, on_conflict=on_conflict)
    return CheckedFile(rows=[values for _, values in rows], skipped=skipped)


def insert_users(
    rows: list[dict[str, Any]],
    *,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Insert checked rows in batches of INSERTs inside one transaction (all or nothing)."""
    now = datetime.now(UTC)
    table = User.__table__
    try:
        for start in range(0, len(rows), batch_size):
            batch = [_record(values, now) for values in rows[start : start + batch_size]]
            db.session.execute(insert(table), batch)
            on_progress(len(batch))
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return len(rows)


# --- exporting ---


def _export_rows() -> Iterable[dict[str, Any]]:
    query = (
        select(User.email, User.name, User.password, User.role, User.verified, User.created_at)
        .order_by(User.created_at, User.id)
        .execution_options(yield_per=1000)
    )
    for email, name, password, role, verified, created_at in db.session.execute(query):
        if created_at is not None and created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)  # SQLite stores no zone
        yield {
            "email": email,
            "name": name,
            "password_hash": password,
            "role": role.value,
            "verified": verified,
            "created_at": created_at.isoformat() if created_at else None,
        }


def export_users(stream: IO[str], file_format: str) -> int:
    """Write every user in the import format; returns how many."""
    count = 0
    writer = csv.DictWriter(stream, fieldnames=COLUMNS) if file_format == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in _export_rows():
        if writer is not None:
            writer.writerow({**row, "verified": "true" if row["verified"] else "false"})
        else:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
