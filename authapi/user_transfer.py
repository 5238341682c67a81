"""Moving users in and out: ``flask users import FILE`` and ``flask users export``.

One format both ways, JSON Lines or CSV, with the columns ``email, name,
password_hash, role, verified, disabled, created_at`` (the first three required).
Hashes are copied, never computed: any format :mod:`authapi.hashers` knows is accepted
and is upgraded at the user's next login.

An import is all or nothing. Every row is checked (the rules of registration for
email and name, a known hash format with sane parameters, no duplicate inside the
file, and none already in the database unless ``on_conflict="skip"``), each bad row
reported with its line number. Rows are written in batches (COPY on PostgreSQL) all
inside ONE transaction, which commits only when the whole file passed: one bad row,
or a failure half-way (the database going away, a concurrent registration of the
same address), rolls every batch back, so nothing half-written ever remains.
"""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from marshmallow import ValidationError
from sqlalchemy import exc as sa_exc
from sqlalchemy import exists, func, insert, or_, select

from authapi import database_deadline, hashers, hooks, passwords
from authapi.emails import skeleton
from authapi.errors import APIError
from authapi.extensions import db
from authapi.mfa.models import TotpFactor
from authapi.models import Identity, Role, User
from authapi.passkeys.models import Passkey
from authapi.passwords import UNUSABLE_PASSWORD_PREFIX
from authapi.schemas import RegisterSchema
from authapi.webhooks import catalog, outbox

COLUMNS = ("email", "name", "password_hash", "role", "verified", "disabled", "created_at")
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


class ImportFailed(Exception):
    """The database refused the rows (e.g. an address registered since the check):
    everything was rolled back."""


class ImportRefused(Exception):
    """The file has bad rows (or is unreadable): nothing was imported."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} bad row(s)")
        self.errors = errors


@dataclass
class ImportReport:
    imported: int = 0  # with dry_run: would be imported
    skipped: list[int] = field(default_factory=list)  # lines whose email has an account
    dry_run: bool = False


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


def _flag(value: Any, column: str) -> bool:
    """``verified`` / ``disabled``: a JSON boolean, or true/false/1/0 (CSV)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise ValueError(f"{column} must be true or false")


CREATED_AT_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
CREATED_AT_SKEW = timedelta(days=1)  # another system's clock may run a little ahead


def _created_at(value: Any, *, now: datetime) -> datetime:
    """An ISO 8601 moment (UTC without an offset) between 1970 and now.

    The bounds are not cosmetic: ``0001-01-01T00:00:00+05:00`` is a year before 1 in
    UTC, which PostgreSQL stores but Python cannot read back, so that one row made
    every read of it (the admin list, the user's login, the export) fail.
    """
    if not isinstance(value, str):
        raise ValueError("created_at must be an ISO 8601 date and time")
    try:
        moment = datetime.fromisoformat(value.strip())
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("created_at must be an ISO 8601 date and time") from None
    if not CREATED_AT_EARLIEST <= moment <= now + CREATED_AT_SKEW:
        raise ValueError("created_at must be between 1970 and now")
    return moment


def _password_hash(value: Any, settings: hashers.HashSettings) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("password_hash is required")
    if len(value) > HASH_MAX or not value.isascii() or not value.isprintable() or " " in value:
        raise ValueError(f"password_hash must be at most {HASH_MAX} printable ASCII characters")
    if value.startswith(UNUSABLE_PASSWORD_PREFIX) and len(value) > 1:
        return value  # no password (a provider's or an emailed code's account): kept
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


_ROLES = {role.value: role for role in Role}


def _identity_field(name: str, value: Any, problems: list[str]) -> Any:
    """Registration's own field (its normalisation and every validator), without the
    schema machinery around it: the import checks 100,000s of rows."""
    try:
        return _identity_schema.fields[name].deserialize(value)
    except ValidationError as error:
        texts = error.messages if isinstance(error.messages, list) else [str(error.messages)]
        problems.append(f"{name}: {' '.join(map(str, texts))}")
        return None


def _check_row(
    row: dict[str, Any], settings: hashers.HashSettings, *, now: datetime
) -> dict[str, Any]:
    """The values to insert, or ValueError with every problem of the row."""
    problems: list[str] = []
    missing = [name for name in REQUIRED if row.get(name) in (None, "")]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    email = name = None
    if "email" not in missing:
        email = _identity_field("email", row["email"], problems)
    if "name" not in missing:
        name = _identity_field("name", row["name"], problems)
    values: dict[str, Any] = {
        "email": email,
        "name": name.strip() if isinstance(name, str) else None,
        "password_hash": None,
        "role": Role.USER,
        "verified": False,
        "disabled": False,  # absent: files from other systems have no such column
        "created_at": None,
    }
    if "password_hash" not in missing:
        try:
            values["password_hash"] = _password_hash(row["password_hash"], settings)
        except ValueError as error:
            problems.append(str(error))
    role = row.get("role")
    if role not in (None, ""):
        if not isinstance(role, str) or role not in _ROLES:
            problems.append("role must be user or admin")
        else:
            values["role"] = _ROLES[role]
    conversions: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        ("verified", lambda raw: _flag(raw, "verified")),
        ("disabled", lambda raw: _flag(raw, "disabled")),
        ("created_at", lambda raw: _created_at(raw, now=now)),
    )
    for key, convert in conversions:
        raw = row.get(key)
        if raw is None or raw == "":
            continue
        try:
            values[key] = convert(raw)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ValueError("; ".join(problems))
    return values


# --- importing ---


def _existing_emails(emails: list[str]) -> set[str]:
    """The addresses among ``emails`` that have an account: the same address, or one
    that looks like it (authapi.emails.skeleton), as at registration."""
    found: set[str] = set()
    for start in range(0, len(emails), LOOKUP_CHUNK):
        chunk = emails[start : start + LOOKUP_CHUNK]
        shapes = {skeleton(email): email for email in chunk}
        taken = db.session.execute(
            select(User.email, User.email_skeleton).where(
                or_(User.email.in_(chunk), User.email_skeleton.in_(list(shapes)))
            )
        )
        for email, shape in taken:
            found.update(address for address in (email, shapes.get(shape)) if address in chunk)
    return found


_COPY_COLUMNS = (
    "id", "email", "email_skeleton", "name", "password", "role", "photo", "verified",
    "disabled", "created_at", "updated_at",
)  # fmt: skip


def _copy(records: list[dict[str, Any]]) -> None:
    """PostgreSQL: one COPY per batch, in the session's transaction (many times faster
    than INSERTs for 100,000s of rows)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for record in records:
        writer.writerow(
            [
                record["id"], record["email"], record["email_skeleton"], record["name"],
                record["password"],
                record["role"].value, record["photo"], "t" if record["verified"] else "f",
                "t" if record["disabled"] else "f",
                record["created_at"].isoformat(), record["updated_at"].isoformat(),
            ]
        )  # fmt: skip
    buffer.seek(0)
    connection = db.session.connection().connection.dbapi_connection
    with connection.cursor() as cursor, database_deadline.blocking_waits():
        cursor.copy_expert(
            f"COPY users ({', '.join(_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer
        )


class _Importer:
    """Checks rows as they come and writes them batch by batch into the one open
    transaction, so PostgreSQL indexes one batch while the next is being checked.
    After the first bad row nothing more is written (the rest is still checked, to
    report every bad row); the caller then rolls back."""

    def __init__(self, *, on_conflict: str, dry_run: bool, batch_size: int) -> None:
        self.on_conflict, self.dry_run, self.batch_size = on_conflict, dry_run, batch_size
        self.settings = passwords.hash_settings()
        self.postgresql = db.session.get_bind().dialect.name == "postgresql"
        self.now = datetime.now(UTC)
        self.errors: list[RowError] = []
        self.first_line: dict[str, int] = {}
        self.first_shape: dict[str, tuple[str, int]] = {}  # skeleton: (email, line)
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.report = ImportReport(dry_run=dry_run)
        self.announce: bool | None = None  # does a webhook want user.created? (asked once)

    def add(self, line: int, row: dict[str, Any]) -> None:
        problem = _columns_problem(row)
        if problem:
            self.errors.append(RowError(line, problem))
            return
        try:
            values = _check_row(row, self.settings, now=self.now)
        except ValueError as error:
            self.errors.append(RowError(line, str(error)))
            return
        earlier = self.first_line.setdefault(values["email"], line)
        if earlier != line:
            self.errors.append(RowError(line, f"{values['email']} is also on line {earlier}"))
            return
        twin, twin_line = self.first_shape.setdefault(
            skeleton(values["email"]), (values["email"], line)
        )
        if twin_line != line:
            self.errors.append(
                RowError(line, f"{values['email']} looks like {twin} on line {twin_line}")
            )
            return
        self.pending.append((line, values))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        existing = _existing_emails([values["email"] for _, values in self.pending])
        new = []
        for line, values in self.pending:
            if values["email"] not in existing:
                if self._hook_refuses(line, values):
                    continue
                new.append(values)
            elif self.on_conflict == "skip":
                self.report.skipped.append(line)
            else:
                self.errors.append(RowError(line, f"{values['email']} already has an account"))
        self.pending.clear()
        self.report.imported += len(new)
        if self.errors or self.dry_run or not new:
            return
        records = [self._record(values) for values in new]
        if self.postgresql:
            _copy(records)
        else:  # the SQLite development mode
            db.session.execute(insert(User.__table__), records)
        self._report_created(records)

    def _hook_refuses(self, line: int, values: dict[str, Any]) -> bool:
        """Ask the before-user-created hook (when configured) about this row; a refusal
        or a hook that gives no usable answer (fail closed) is a bad row."""
        try:
            hooks.before_user_created(email=values["email"], name=values["name"], source="import")
        except APIError as refusal:
            self.errors.append(RowError(line, f"refused by the sign-up hook: {refusal.message}"))
            return True
        return False

    def _report_created(self, records: list[dict[str, Any]]) -> None:
        """user.created webhook events for the batch, in the import's own transaction
        (COPY bypasses the ORM listener that reports other changes)."""
        if self.announce is None:
            self.announce = outbox.subscribed(db.session.connection(), catalog.USER_CREATED)
        if not self.announce:
            return
        changes = [
            outbox.Change(catalog.USER_CREATED, str(record["id"]), outbox.user_data(User(**record)))
            for record in records
        ]
        outbox.write(db.session.connection(), changes, now=time.time())

    def _record(self, values: dict[str, Any]) -> dict[str, Any]:
        created = values["created_at"] or self.now
        return {
            "id": uuid.uuid4(),
            "email": values["email"],
            "email_skeleton": skeleton(values["email"]),
            "name": values["name"],
            "password": values["password_hash"],
            "role": values["role"],
            "photo": "default.png",
            "verified": values["verified"],
            "disabled": values["disabled"],
            "created_at": created,
            "updated_at": created,
        }


def _rows(lines: Iterable[str], file_format: str, errors: list[RowError]) -> Iterator[Any]:
    """(line, row) for every data row; a bad CSV header stops the file."""
    if file_format == "jsonl":
        yield from _jsonl_rows(lines)
        return
    rows = _csv_rows(lines)
    for line, header in rows:
        if isinstance(header, RowError):
            errors.append(header)
            return
        missing = [name for name in REQUIRED if name not in header]
        problem = _columns_problem(header)
        if problem or missing:
            errors.append(RowError(line, problem or f"missing column(s): {', '.join(missing)}"))
            return
        break
    yield from rows


def import_file(
    path: Path,
    file_format: str,
    *,
    on_conflict: str = "fail",
    dry_run: bool = False,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] = lambda done: None,
) -> ImportReport:
    """Import a file all or nothing. ``on_progress`` gets the bytes read since its
    last call. Raises ImportRefused (bad rows) or ImportFailed (the database refused):
    either way the transaction is rolled back and nothing remains."""
    importer = _Importer(on_conflict=on_conflict, dry_run=dry_run, batch_size=batch_size)
    reported = 0
    try:
        with path.open("rb") as binary:
            try:
                for line, row in _rows(decoded_lines(binary), file_format, importer.errors):
                    if isinstance(row, RowError):
                        importer.errors.append(row)
                    else:
                        importer.add(line, row)
                    if not importer.pending:  # a batch was just written
                        position = binary.tell()
                        on_progress(position - reported)
                        reported = position
            except _NotUtf8 as error:
                importer.errors.append(RowError(error.line, "not UTF-8 text"))
            importer.flush()
            on_progress(binary.tell() - reported)
        if importer.errors:
            raise ImportRefused(sorted(importer.errors, key=lambda error: error.line))
        if not dry_run:
            db.session.commit()
    except (sa_exc.SQLAlchemyError, db.session.get_bind().dialect.dbapi.Error) as error:
        db.session.rollback()
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise ImportFailed(reason) from error
    except BaseException:
        db.session.rollback()
        raise
    return importer.report


# --- exporting ---


def _export_rows() -> Iterable[dict[str, Any]]:
    query = (
        select(
            User.email,
            User.name,
            User.password,
            User.role,
            User.verified,
            User.disabled,
            User.created_at,
        )
        .order_by(User.created_at, User.id)
        .execution_options(yield_per=1000)
    )
    for email, name, password, role, verified, disabled, created_at in db.session.execute(query):
        if created_at is not None and created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=UTC)  # SQLite stores no zone
        yield {
            "email": email,
            "name": name,
            "password_hash": password,
            "role": role.value,
            "verified": verified,
            "disabled": disabled,
            "created_at": created_at.isoformat() if created_at else None,
        }


def count_left_behind() -> int:
    """Users with what an export does not carry: a TOTP factor, a passkey or a linked
    provider. Imported, such an account signs in with its password alone until the
    user sets them up again (docs/passwords.md says why they stay behind)."""
    query = select(func.count()).where(
        or_(
            exists().where(TotpFactor.user_id == User.id),
            exists().where(Passkey.user_id == User.id),
            exists().where(Identity.user_id == User.id),
        )
    )
    return db.session.scalar(query) or 0


def export_users(stream: IO[str], file_format: str) -> int:
    """Write every user in the import format; returns how many."""
    count = 0
    writer = csv.DictWriter(stream, fieldnames=COLUMNS) if file_format == "csv" else None
    if writer is not None:
        writer.writeheader()
    for row in _export_rows():
        if writer is not None:
            flags = {name: "true" if row[name] else "false" for name in ("verified", "disabled")}
            writer.writerow({**row, **flags})
        else:
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
