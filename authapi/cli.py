"""Flask CLI commands: ``flask keys ...`` and ``flask users ...``."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import click
import redis
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from marshmallow import ValidationError
from sqlalchemy import create_engine, make_url, text
from sqlalchemy import exc as sa_exc

from authapi import keys, user_transfer
from authapi.admin import service as admin_service
from authapi.emails import normalize_email, valid_email
from authapi.errors import APIError
from authapi.schemas import validate_new_password
from authapi.users.repository import find_user_by_email

keys_cli = AppGroup("keys", help="Generate and rotate the RSA keys that sign tokens.")
users_cli = AppGroup("users", help="Manage user accounts.")
SHOWN_ERRORS = 50  # bad rows listed by `flask users import`


# PostgreSQL or Redis not answering: what a command says instead of a traceback.
UNREACHABLE = {
    sa_exc.OperationalError: "PostgreSQL is unavailable",
    sa_exc.InterfaceError: "PostgreSQL is unavailable",
    sa_exc.TimeoutError: "PostgreSQL is unavailable",
    redis.ConnectionError: "Redis is unavailable",
    redis.TimeoutError: "Redis is unavailable",
}


def report_unreachable_dependencies(command: click.Command) -> None:
    """Make ``command`` (each command of a group) end with one line naming the
    dependency that is down and exit status 1, not a traceback. Idempotent."""
    if isinstance(command, click.Group):
        for subcommand in command.commands.values():
            report_unreachable_dependencies(subcommand)
        return
    callback = command.callback
    if callback is None or getattr(callback, "reports_unreachable", False):
        return

    @functools.wraps(callback)
    def reporting(*args: object, **kwargs: object) -> object:
        try:
            return callback(*args, **kwargs)
        except tuple(UNREACHABLE) as error:
            what = next(text for kind, text in UNREACHABLE.items() if isinstance(error, kind))
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise click.ClickException(f"{what}: {reason}") from None

    reporting.reports_unreachable = True  # type: ignore[attr-defined]
    command.callback = reporting


KINDS = ("ACCESS", "REFRESH")
BITS_OPTION = click.option(
    "--bits",
    default=2048,
    show_default=True,
    type=click.IntRange(min=2048, max=16384),
    help="RSA key size in bits.",
)
OUT_OPTION = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the PEM files into this directory.",
)


def _new_key_pair(kind: str, bits: int, out: Path | None) -> list[str]:
    """A new key pair for ``kind``: its two variables, and its PEM files in ``out``."""
    private_key = keys.generate_private_key(bits)
    if out is not None:
        try:
            keys.write_key_pair(out, kind.lower(), private_key)
        except OSError as error:
            raise click.ClickException(
                f"Cannot write the keys into {out}: {error.strerror}"
            ) from None
    return [
        f"{kind}_TOKEN_PRIVATE_KEY={keys.env_value(keys.private_pem(private_key))}",
        f"{kind}_TOKEN_PUBLIC_KEY={keys.env_value(keys.public_pem(private_key.public_key()))}",
    ]


def _verifying_keys(kind: str) -> str:
    """The public keys that verify ``kind`` tokens now, as a PREVIOUS list: the
    configured ones, or those the app loaded (the development keys in instance/).

    Always base64 of PEM, one line: a key may be configured as a raw (multi-line) PEM,
    which printed as is would not be one ``NAME=value`` line of .env.
    """
    config = current_app.config
    configured = config.get(f"{kind}_TOKEN_PUBLIC_KEY", "").strip()
    if configured:
        listed = [configured, *config.get(f"{kind}_TOKEN_PREVIOUS_PUBLIC_KEYS", "").split(",")]
        public_keys = [
            keys.load_public_key(value, f"{kind}_TOKEN_PREVIOUS_PUBLIC_KEYS")
            for value in listed
            if value.strip()
        ]
    else:
        ring = getattr(current_app.extensions["authapi.tokens"], kind.lower())
        public_keys = list(ring.verifying_keys.values())
    return ",".join(keys.env_value(keys.public_pem(key)) for key in public_keys)


@keys_cli.command("generate")
@BITS_OPTION
@OUT_OPTION
def generate_keys(bits: int, out: Path | None) -> None:
    """Print the four key variables, ready to paste into .env."""
    lines = [line for kind in KINDS for line in _new_key_pair(kind, bits, out)]
    click.echo("# Keep the private keys secret; never commit them.")
    click.echo("\n".join(lines))


@keys_cli.command("rotate")
@BITS_OPTION
@OUT_OPTION
def rotate_keys(bits: int, out: Path | None) -> None:
    """Print new keys; the current public keys keep verifying.

    Tokens signed with the old keys stay valid until they expire; after the
    longest lifetime (SESSION_MAX_AGE) has passed, drop the *_PREVIOUS_PUBLIC_KEYS.
    With no keys configured, the current keys are the development keys.
    """
    config = current_app.config
    lines = []
    for kind in KINDS:
        kept = _verifying_keys(kind)
        lines += _new_key_pair(kind, bits, out)
        lines.append(f"{kind}_TOKEN_PREVIOUS_PUBLIC_KEYS={kept}")
    click.echo("# 1. Replace these variables on every instance and restart them.")
    click.echo("# 2. Old tokens keep verifying through *_PREVIOUS_PUBLIC_KEYS (and JWKS).")
    max_age = config["SESSION_MAX_AGE"]
    click.echo(f"# 3. After SESSION_MAX_AGE ({max_age} s), remove the PREVIOUS lists.")
    click.echo("\n".join(lines))


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="Admin", show_default=True, help="Name for a new account.")
@click.option("--password", help="Password for a new account (prompted when omitted).")
def create_admin(email: str, name: str, password: str | None) -> None:
    """Create an admin, or promote a user to admin.

    An existing account keeps its password; a new one gets --password (or a prompt).
    """
    normalized = normalize_email(email)
    if not valid_email(normalized):
        raise click.BadParameter("not a valid email address", param_hint="EMAIL")
    user = find_user_by_email(normalized)
    if user is not None:
        admin_service.promote_to_admin(user)
        click.echo(f"Promoted {normalized} to admin.")
        return
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        validate_new_password(password)
        admin_service.create_admin(name, normalized, password)
    except ValidationError as error:
        raise click.BadParameter(" ".join(error.messages), param_hint="password") from None
    except APIError as error:  # the breach check failing closed; created meanwhile
        raise click.ClickException(error.message) from None
    click.echo(f"Created admin {normalized}.")


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database named in ``url`` if missing; True if created."""
    target = make_url(url)
    if not target.drivername.startswith("postgresql") or not target.database:
        return False
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if exists:
                return False
            quoted = connection.dialect.identifier_preparer.quote(target.database)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        engine.dispose()


@click.command("deploy")
@with_appcontext
def deploy() -> None:
    """Create the database if missing and migrate it.

    Idempotent: run it on every release, before starting the server.
    """
    from flask_migrate import upgrade  # Alembic: 12 MB, for commands only

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if ensure_database(url):
        click.echo(f"Created database {make_url(url).database}.")
    upgrade()
    click.echo("Database is up to date.")


@users_cli.command("delete")
@click.argument("email")
@click.confirmation_option(prompt="Delete this user and end all their sessions?")
def delete_user(email: str) -> None:
    """Delete a user and end all their sessions.

    Their access and refresh tokens stop working at once. The last active admin is
    refused, as by the admin API.
    """
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {normalize_email(email)}")
    try:
        admin_service.delete_user(None, user.id)
    except APIError as error:  # the last admin
        raise click.ClickException(error.message) from None
    click.echo(f"Deleted {user.email} and ended their sessions.")


@users_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(user_transfer.FORMATS),
    help="jsonl or csv (default: from the file's extension).",
)
@click.option("--dry-run", is_flag=True, help="Check every row; import nothing.")
@click.option(
    "--on-conflict",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="An email that already has an account: refuse the file, or skip that row.",
)
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Rows written per COPY/INSERT (all in one transaction).",
)
def import_users(
    file: Path, file_format: str | None, dry_run: bool, on_conflict: str, batch_size: int
) -> None:
    """Import users with their old password hashes (JSONL or CSV).

    Columns: email, name, password_hash (required), role, verified, disabled,
    created_at.
    All or nothing: one bad row refuses the file (each reported with its line).
    Users log in with their old password; their hash is upgraded then.
    """
    try:
        chosen = user_transfer.format_for(file, file_format)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="FILE") from None
    started = time.perf_counter()
    try:
        with click.progressbar(
            length=file.stat().st_size,
            label="Checking users" if dry_run else "Importing users",
            file=sys.stderr,
        ) as bar:
            report = user_transfer.import_file(
                file,
                chosen,
                on_conflict=on_conflict,
                dry_run=dry_run,
                batch_size=batch_size,
                on_progress=bar.update,
            )
    except user_transfer.ImportRefused as refused:
        for error in refused.errors[:SHOWN_ERRORS]:
            click.echo(f"line {error.line}: {error.message}", err=True)
        more = len(refused.errors) - SHOWN_ERRORS
        if more > 0:
            click.echo(f"... and {more} more", err=True)
        raise click.ClickException(
            f"{len(refused.errors)} bad row(s) in {file.name}: nothing was imported"
        ) from None
    except user_transfer.ImportFailed as failed:
        raise click.ClickException(f"nothing was imported: {failed}") from None
    seconds = time.perf_counter() - started
    skipped = len(report.skipped)
    skipped_text = f", {skipped} skipped (already have an account)" if skipped else ""
    if dry_run:
        click.echo(f"Dry run: {report.imported} user(s) would be imported{skipped_text}.")
        return
    rate = f" ({report.imported / seconds:,.0f} users/s)" if seconds > 0 else ""
    click.echo(f"Imported {report.imported} user(s){skipped_text} in {seconds:.1f} s{rate}.")


def _export_to_private_file(file: Path, file_format: str) -> int:
    """Export into a new file of mode 0600, then move it onto ``file``.

    Never into what ``file`` already is: truncating an existing file keeps its mode and
    owner (a world-readable old export, or a file someone else made first in a shared
    directory, would receive the hashes), and follows a symbolic link.
    """
    descriptor, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.")
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as stream:
            count = user_transfer.export_users(stream, file_format)
        os.replace(temporary, file)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return count


@users_cli.command("export")
@click.argument(
    "file", default="-", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True)
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(user_transfer.FORMATS),
    help="jsonl or csv (default: from the file's extension; jsonl to stdout).",
)
def export_users(file: Path, file_format: str | None) -> None:
    """Export every user with their hash, in the import format.

    JSON Lines on stdout by default.

    The file holds password hashes: it is created readable by its owner only.
    """
    if str(file) == "-":
        count = user_transfer.export_users(sys.stdout, file_format or "jsonl")
    else:
        try:
            chosen = user_transfer.format_for(file, file_format)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="FILE") from None
        try:
            count = _export_to_private_file(file, chosen)
        except OSError as error:
            raise click.ClickException(f"Cannot write {file}: {error.strerror}") from None
    click.echo(f"Exported {count} user(s).", err=True)
    left_behind = user_transfer.count_left_behind()
    if left_behind:
        click.echo(
            f"Not in the file: the second factors, passkeys and provider links of "
            f"{left_behind} of them (set up again after an import).",
            err=True,
        )
