"""Flask CLI commands: ``flask keys ...`` and ``flask users ...``."""

from __future__ import annotations

import base64
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from marshmallow import ValidationError
from sqlalchemy import create_engine, make_url, select, text

from authapi import keys, passwords
from authapi.extensions import db
from authapi.models import Role, User
from authapi.schemas import normalize_email, valid_email, validate_new_password

keys_cli = AppGroup("keys", help="Generate and rotate the RSA keys that sign tokens.")
users_cli = AppGroup("users", help="Manage user accounts.")


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")


@keys_cli.command("generate")
@click.option("--bits", default=2048, show_default=True, type=click.IntRange(min=2048))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write the PEM files into this directory.",
)
def generate_keys(bits: int, out: Path | None) -> None:
    """Print the four key variables, ready to paste into .env."""
    lines = []
    for kind in ("ACCESS", "REFRESH"):
        private_key = keys.generate_private_key(bits)
        private_pem = keys.private_pem(private_key)
        public_pem = keys.public_pem(private_key.public_key())
        lines.append(f"{kind}_TOKEN_PRIVATE_KEY={_b64(private_pem)}")
        lines.append(f"{kind}_TOKEN_PUBLIC_KEY={_b64(public_pem)}")
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            private_path = out / f"{kind.lower()}_private.pem"
            private_path.write_bytes(private_pem)
            private_path.chmod(0o600)
            (out / f"{kind.lower()}_public.pem").write_bytes(public_pem)
    click.echo("# Keep the private keys secret; never commit them.")
    click.echo("\n".join(lines))


@users_cli.command("create-admin")
@click.argument("email")
@click.option("--name", default="Admin", show_default=True)
@click.password_option(help="Password for a new account (prompted when omitted).")
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account, or promote an existing user to admin."""
    normalized = normalize_email(email)
    if not valid_email(normalized):
        raise click.BadParameter("not a valid email address", param_hint="EMAIL")
    user = db.session.scalar(select(User).where(User.email == normalized))
    if user is not None:
        user.role = Role.ADMIN
        db.session.commit()
        click.echo(f"Promoted {normalized} to admin.")
        return
    try:
        validate_new_password(password)
    except ValidationError as error:
        raise click.BadParameter(" ".join(error.messages), param_hint="password") from None
    user = User(
        name=name, email=normalized, password=passwords.hash_password(password), role=Role.ADMIN
    )
    db.session.add(user)
    db.session.commit()
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
def deploy() -> None:
    """Create the database if it does not exist, then run every migration (idempotent)."""
    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if ensure_database(url):
        click.echo(f"Created database {make_url(url).database}.")
    upgrade()
    click.echo("Database is up to date.")
