"""Keeping the audit log bounded: ``flask audit prune`` deletes rows older than
AUDIT_RETENTION_DAYS. Run it daily (a cron job, or the compose ``prune`` service)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import delete, select

from authapi import clock
from authapi.extensions import db
from authapi.models import AuthEvent

BATCH = 5000  # rows per transaction: a large backlog never holds one long lock

audit_cli = AppGroup("audit", help="Maintain the audit log.")


def prune_events(older_than: datetime) -> int:
    """Delete audit rows created before ``older_than``, in batches; returns how many."""
    deleted = 0
    while True:
        batch = select(AuthEvent.id).where(AuthEvent.created_at < older_than).limit(BATCH)
        result = db.session.execute(delete(AuthEvent).where(AuthEvent.id.in_(batch)))
        db.session.commit()
        deleted += result.rowcount
        if result.rowcount < BATCH:
            return deleted


@audit_cli.command("prune")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Keep this many days instead of AUDIT_RETENTION_DAYS (0 keeps everything).",
)
def prune(days: int | None) -> None:
    """Delete audit events older than the retention period."""
    keep = int(current_app.config["AUDIT_RETENTION_DAYS"]) if days is None else days
    if keep == 0:
        click.echo("Retention is 0 days (keep everything): nothing deleted.")
        return
    cutoff = datetime.fromtimestamp(clock.now(), tz=UTC) - timedelta(days=keep)
    deleted = prune_events(cutoff)
    click.echo(f"Deleted {deleted} audit events older than {keep} days.")
