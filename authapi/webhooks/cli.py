"""``flask webhooks ...``: the delivery worker, and a secret for the hooks."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import timedelta
from types import FrameType

import click
from flask import current_app
from flask.cli import AppGroup

from authapi.webhooks import service, signing, worker

webhooks_cli = AppGroup("webhooks", help="Deliver webhooks; make hook secrets.")
log = logging.getLogger(__name__)


@webhooks_cli.command("worker")
@click.option("--once", is_flag=True, help="Attempt what is due now, then exit.")
@click.option(
    "--threads",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Deliveries sent at the same time by this process.",
)
def run_worker(once: bool, threads: int) -> None:
    """Send queued webhooks until stopped (SIGTERM, Ctrl-C).

    The deliveries under way finish first. Run as many workers as you like, on any
    machines: they never send a delivery twice at the same time.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        click.echo(f"Attempted {worker.run_once(sweep=True)} deliveries.")
        return
    stop = threading.Event()

    def finish(signum: int, _frame: FrameType | None) -> None:
        log.info("webhooks worker: signal %d, finishing the current deliveries", signum)
        stop.set()

    signal.signal(signal.SIGTERM, finish)
    signal.signal(signal.SIGINT, finish)
    log.info("webhooks worker started with %d thread(s)", threads)
    pool = [
        threading.Thread(target=worker.run_forever, args=(app, stop), name=f"webhooks-{n}")
        for n in range(threads)
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        while thread.is_alive():  # a timed join lets the signal handler run
            thread.join(timeout=1.0)
    log.info("webhooks worker stopped")


@webhooks_cli.command("purge")
@click.option(
    "--older-than",
    "days",
    default=30,
    show_default=True,
    type=click.IntRange(min=0),
    help="Age in days of the events to delete.",
)
def purge(days: int) -> None:
    """Delete old events whose deliveries are all finished.

    Pending deliveries (and their events) are kept, however old. Run it daily (cron).
    """
    count = service.purge(older_than=timedelta(days=days))
    click.echo(f"Deleted {count} events (and their deliveries).")


@webhooks_cli.command("new-secret")
def new_secret() -> None:
    """Print a fresh whsec_ secret (for HOOK_SECRET)."""
    click.echo(signing.new_secret())
