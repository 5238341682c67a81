"""Migrations (upgrade, no drift, downgrade, upgrade) and the CLI commands."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from authapi import keys
from authapi.cli import ensure_database
from authapi.extensions import db
from authapi.models import Role, User
from tests.helpers import PASSWORD, bearer, login, register, table_names


def test_upgrade_check_downgrade_upgrade(scratch_app):
    runner = scratch_app.test_cli_runner()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert {"users", "auth_events", "alembic_version"} <= table_names(scratch_app)
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    down = runner.invoke(args=["db", "downgrade", "base"])
    assert down.exit_code == 0, down.output
    assert not {"users", "auth_events"} & table_names(scratch_app)
    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert "users" in table_names(scratch_app)


def test_deploy_is_idempotent(scratch_app):
    assert ensure_database(scratch_app.config["SQLALCHEMY_DATABASE_URI"]) is False  # exists
    runner = scratch_app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["deploy"])
        assert result.exit_code == 0, result.output
        assert "Database is up to date." in result.output
    assert "users" in table_names(scratch_app)


def test_updated_at_changes_on_update(client, app):
    user = register(client)
    with app.app_context():
        stored = db.session.scalar(select(User).where(User.email == user["email"]))
        before = stored.updated_at
        assert stored.created_at == before
        stored.name = "Renamed"
        db.session.commit()
        assert stored.updated_at > before
        assert stored.created_at < stored.updated_at


def test_database_enforces_unique_email_and_role_values(client, app):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    register(client)
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(
                text(
                    "INSERT INTO users (id, name, email, password) "
                    "VALUES (gen_random_uuid(), 'x', 'alice@example.com', 'x')"
                )
            )
        db.session.rollback()
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE users SET role = 'root'"))
        db.session.rollback()
        stored_role = db.session.scalar(text("SELECT role FROM users"))
        assert stored_role == "user"  # the value, not the enum member name


def test_keys_generate_prints_four_usable_variables(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["keys", "generate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    values = dict(
        line.split("=", 1) for line in result.output.splitlines() if not line.startswith("#")
    )
    assert set(values) == {
        "ACCESS_TOKEN_PRIVATE_KEY",
        "ACCESS_TOKEN_PUBLIC_KEY",
        "REFRESH_TOKEN_PRIVATE_KEY",
        "REFRESH_TOKEN_PUBLIC_KEY",
    }
    for kind in ("ACCESS", "REFRESH"):
        ring = keys.build_key_ring(
            values[f"{kind}_TOKEN_PRIVATE_KEY"], values[f"{kind}_TOKEN_PUBLIC_KEY"], "", kind
        )
        assert ring.signing_key.key_size == 2048
    assert keys.key_id(keys.load_public_key(values["ACCESS_TOKEN_PUBLIC_KEY"], "a")) != keys.key_id(
        keys.load_public_key(values["REFRESH_TOKEN_PUBLIC_KEY"], "r")
    )
    written = tmp_path / "access_private.pem"
    assert written.read_bytes() == base64.b64decode(values["ACCESS_TOKEN_PRIVATE_KEY"])
    assert oct(written.stat().st_mode & 0o777) == "0o600"


def test_create_admin_creates_and_promotes(client, app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create-admin", "Root@Example.com", "--name", "Root", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com" in result.output
    token = login(client, email="root@example.com")
    me = app.test_client().get("/api/users/me", headers=bearer(token))
    assert me.json["data"]["user"]["role"] == "admin"

    register(client, email="carol@example.com")
    promoted = runner.invoke(args=["users", "create-admin", "carol@example.com"], input="\n\n")
    assert promoted.exit_code == 0, promoted.output
    assert "Promoted carol@example.com" in promoted.output
    with app.app_context():
        carol = db.session.scalar(select(User).where(User.email == "carol@example.com"))
        assert carol.role is Role.ADMIN


def test_create_admin_rejects_bad_input(app):
    runner = app.test_cli_runner()
    bad_email = runner.invoke(args=["users", "create-admin", "nope", "--password", PASSWORD])
    assert bad_email.exit_code != 0 and "valid email" in bad_email.output
    short = runner.invoke(args=["users", "create-admin", "a@example.com", "--password", "short"])
    assert short.exit_code != 0 and "at least 8" in short.output


def test_no_default_admin_exists(app):
    with app.app_context():
        assert db.session.scalar(select(User).where(User.role == Role.ADMIN)) is None


def test_cli_help_lists_grouped_commands(app):
    result = app.test_cli_runner().invoke(args=["--help"])
    for group in ("keys", "users", "deploy", "db"):
        assert group in result.output


def test_create_admin_says_so_in_one_line_when_the_breach_check_is_down(make_app):
    """PWNED_PASSWORDS_FAIL_OPEN=false and the range API unreachable (nothing listens
    on the discard port): a one-line error and a non-zero exit, no traceback, no user."""
    app = make_app(
        PASSWORD_COMMON_CHECK=False,
        PWNED_PASSWORDS_URL="http://127.0.0.1:9/range/",
        PWNED_PASSWORDS_FAIL_OPEN=False,
    )
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "root@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # no uncaught error
    # Before it, only the app's log line about the unreachable API.
    assert result.output.splitlines()[-1] == (
        "Error: The password check is unavailable, please retry shortly"
    )
    assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(select(User)) is None


# Nothing listens on port 1: a PostgreSQL or Redis that is down.
DEAD_DATABASE = "postgresql+psycopg2://postgres@127.0.0.1:1/nowhere_test"
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.parametrize(
    "args",
    [
        ["deploy"],
        ["db", "upgrade"],
        ["users", "create-admin", "root@example.com", "--password", PASSWORD],
        ["users", "delete", "root@example.com", "--yes"],
        ["users", "export"],
        ["audit", "prune"],
        ["webhooks", "purge"],
    ],
)
def test_a_command_with_postgresql_down_says_so_in_one_line(make_app, args):
    """Found by the black-box audit: every database command ended in a traceback."""
    app = make_app(SQLALCHEMY_DATABASE_URI=DEAD_DATABASE)
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # no uncaught error
    assert result.output.splitlines()[-1].startswith("Error: PostgreSQL is unavailable: ")
    assert "Traceback" not in result.output


def test_users_delete_with_redis_down_says_so_and_deletes_nothing(app, make_app):
    """Found by the black-box audit: a traceback, and the account deleted while its
    sessions (and the cached copy that authenticates them) stayed in Redis."""
    register(app.test_client(), email="gone@example.com")
    down = make_app(REDIS_URL=DEAD_REDIS)
    result = down.test_cli_runner().invoke(args=["users", "delete", "gone@example.com", "--yes"])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.splitlines()[-1].startswith("Error: Redis is unavailable: ")
    with app.app_context():
        assert db.session.scalar(select(User.email)) == "gone@example.com"
        db.session.remove()


def test_users_delete_refuses_the_last_admin(app):
    """Found by an audit: the CLI deleted the last admin, which the admin API refuses
    (the same rule, admin.service, now applies to both)."""
    runner = app.test_cli_runner()
    for email in ("root@example.com", "second@example.com"):
        created = runner.invoke(args=["users", "create-admin", email, "--password", PASSWORD])
        assert created.exit_code == 0, created.output
    first = runner.invoke(args=["users", "delete", "second@example.com", "--yes"])
    assert first.exit_code == 0, first.output
    last = runner.invoke(args=["users", "delete", "root@example.com", "--yes"])
    assert last.exit_code == 1, last.output
    assert isinstance(last.exception, SystemExit), last.exception
    assert last.output.splitlines()[-1] == (
        "Error: The last admin cannot be demoted, disabled or deleted"
    )
    with app.app_context():
        assert db.session.scalar(select(User.email)) == "root@example.com"
        db.session.remove()


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "generate", "--out", "/proc/no-such-directory"],
        ["users", "export", "/proc/no-such-directory/users.jsonl"],
    ],
)
def test_a_file_that_cannot_be_written_is_one_line(app, args):
    """Found by the black-box audit: a traceback (FileNotFoundError)."""
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.splitlines()[-1].startswith("Error: Cannot write ")
    assert "No such file or directory" in result.output


def test_keys_refuse_a_size_that_would_never_finish(app):
    """Found by the black-box audit: --bits 99999999 ran (generating) without end."""
    result = app.test_cli_runner().invoke(args=["keys", "generate", "--bits", "99999999"])
    assert result.exit_code == 2
    assert "--bits" in result.output
