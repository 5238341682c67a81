"""``flask keys mfa``: print a fresh MFA_ENCRYPTION_KEY (``make keys`` appends it to .env)."""

from __future__ import annotations

import base64
import os

import click

from authapi.cli import keys_cli
from authapi.mfa.crypto import KEY_BYTES


@keys_cli.command("mfa")
def generate_mfa_key() -> None:
    """Print a new MFA_ENCRYPTION_KEY (encrypts TOTP secrets).

    To rotate: move the current value into MFA_ENCRYPTION_PREVIOUS_KEYS first, so
    secrets stored under it keep decrypting.
    """
    click.echo("# Keep it secret; never commit it. Losing it disables every TOTP factor.")
    click.echo(f"MFA_ENCRYPTION_KEY={base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}")
