"""`flask users import` / `export`: all or nothing, line numbers, and imported users
log in with their old password (and get upgraded)."""

from __future__ import annotations

import csv
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import argon2
import argon2.low_level
import psycopg2
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from authapi import user_transfer
from authapi.extensions import db
from authapi.models import AuthEvent, Identity, Role, User
from authapi.webhooks.models import WebhookEndpoint, WebhookEvent
from authapi.webhooks.signing import new_secret
from tests.helpers import PASSWORD, register
from tests.support.foreign_hashes import FOREIGN, FOREIGN_CONFIG
from tests.support.receiver import Answer
from tests.support.smtp_sink import delivered

OLD_PASSWORD = "my password from the old system"


@pytest.fixture
def import_app(make_app):
    return make_app(**FOREIGN_CONFIG)


def _hash(kind: str = "django-pbkdf2-sha256", password: str = OLD_PASSWORD) -> str:
    return FOREIGN[kind][0](password)


def _row(index: int, **overrides):
    row = {
        "email": f"user{index}@example.com",
        "name": f"User {index}",
        "password_hash": _hash("bcrypt-2b-cost-5"),
    }
    row.update(overrides)
    return row


def _jsonl(tmp_path: Path, rows, name="users.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _csv(tmp_path: Path, rows, columns, name="users.csv") -> Path:
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _run(app, args):
    return app.test_cli_runner().invoke(args=args)


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def _user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


def _login(app, email, password):
    return app.test_client().post("/api/auth/login", json={"email": email, "password": password})


def test_a_jsonl_import_keeps_every_column_and_users_log_in_and_are_upgraded(import_app, tmp_path):
    rows = [
        {
            "email": "  Ada@Example.COM ",
            "name": "Ada",
            "password_hash": _hash("django-pbkdf2-sha256"),
            "role": "admin",
            "verified": True,
            "created_at": "2019-05-04T10:00:00+02:00",
        },
        {"email": "bob@example.com", "name": "Bob", "password_hash": _hash("firebase-scrypt")},
    ]
    result = _run(import_app, ["users", "import", str(_jsonl(tmp_path, rows))])
    assert result.exit_code == 0, result.output
    assert "Imported 2 user(s)" in result.output
    ada = _user(import_app, "ada@example.com")  # normalised like registration
    assert (ada.name, ada.role, ada.verified) == ("Ada", Role.ADMIN, True)
    assert ada.created_at == datetime(2019, 5, 4, 8, 0, tzinfo=UTC)
    assert ada.password == rows[0]["password_hash"]  # copied, not computed
    bob = _user(import_app, "bob@example.com")
    assert (bob.role, bob.verified, bob.disabled) == (Role.USER, False, False)

    for email in ("ada@example.com", "bob@example.com"):
        assert _login(import_app, email, "wrong password").status_code == 400
        assert _login(import_app, email, OLD_PASSWORD).status_code == 200
        assert _user(import_app, email).password.startswith("$2b$04$")
    with import_app.app_context():
        rehashed = db.session.scalar(
            select(func.count()).where(AuthEvent.event == "password_rehashed")
        )
    assert rehashed == 2


def test_a_csv_import_works_the_same(import_app, tmp_path):
    columns = ["email", "name", "password_hash", "verified", "created_at", "role"]
    rows = [
        {**_row(1), "verified": "true", "created_at": "2020-01-01T00:00:00Z", "role": ""},
        {**_row(2), "verified": "", "created_at": "", "role": "user"},
    ]
    rows[0]["name"] = 'Quoted, "comma" name'
    result = _run(import_app, ["users", "import", str(_csv(tmp_path, rows, columns))])
    assert result.exit_code == 0, result.output
    first = _user(import_app, "user1@example.com")
    assert (first.name, first.verified, first.role) == ('Quoted, "comma" name', True, Role.USER)
    assert first.created_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert _user(import_app, "user2@example.com").verified is False
    assert _login(import_app, "user2@example.com", OLD_PASSWORD).status_code == 200


def test_dry_run_checks_everything_and_writes_nothing(import_app, tmp_path):
    path = _jsonl(tmp_path, [_row(index) for index in range(5)])
    result = _run(import_app, ["users", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "5 user(s) would be imported" in result.output
    assert _count(import_app) == 0
    bad = _jsonl(tmp_path, [_row(1), _row(2, email="nope")], "bad.jsonl")
    result = _run(import_app, ["users", "import", str(bad), "--dry-run"])
    assert result.exit_code == 1 and "line 2: email: Invalid email address" in result.output


def test_bad_rows_are_reported_with_their_line_and_nothing_is_imported(import_app, tmp_path):
    path = tmp_path / "users.jsonl"
    lines = [
        json.dumps(_row(1)),
        "",  # blank lines are skipped but still counted
        json.dumps(_row(2, email="not an email")),
        json.dumps(_row(3, password_hash="plaintext-password")),
        json.dumps(_row(4, role="superuser")),
        "{not json",
        json.dumps(_row(5, verified="maybe")),
        json.dumps(_row(6, created_at="yesterday")),
        json.dumps(_row(7, name="\u202eevil")),
        json.dumps(_row(8, email="USER1@example.com")),
        json.dumps(["a", "list"]),
        json.dumps({"email": "x@example.com"}),
        json.dumps(_row(9, password_hash="$2b$04$short")),
        json.dumps(_row(10, disabled="yes")),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1
    reported = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in reported] == [
        f"line {number}" for number in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
    ]
    assert "line 10: user1@example.com is also on line 1" in result.output
    assert "line 12: missing name, password_hash" in result.output
    assert "line 14: disabled must be true or false" in result.output
    assert "12 bad row(s) in users.jsonl: nothing was imported" in result.output
    assert _count(import_app) == 0


@pytest.mark.parametrize(
    "created_at",
    [
        "0001-01-01T00:00:00+05:00",  # a year before 1 in UTC: stored, then unreadable
        "9999-12-31T23:00:00-05:00",  # after 9999 in UTC
        "1900-01-01T00:00:00Z",
        "2999-01-01T00:00:00Z",
    ],
)
def test_a_created_at_out_of_range_is_a_bad_row(import_app, tmp_path, created_at):
    """Such a row used to import; then the admin list, the user's login and the
    export all failed (500, a traceback) on reading it back."""
    path = _jsonl(tmp_path, [_row(1, created_at=created_at)])
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1
    assert "line 1: created_at must be" in result.output
    assert _count(import_app) == 0
    assert _run(import_app, ["users", "export"]).exit_code == 0


@pytest.mark.parametrize(
    "password_hash",
    [
        "scrypt:1048576:8:1$salt$" + "0" * 128,  # 1 GiB for scrypt's table, plus its buffers
        "$firebase-scrypt$rounds=64,mem_cost=20$c2FsdA==$aGFzaA==",  # 8 GiB
    ],
)
def test_a_scrypt_hash_too_costly_to_check_is_a_bad_row(import_app, tmp_path, password_hash):
    """The import used a looser memory rule than the login, which refuses (as a wrong
    password) a check needing over 1 GiB: such users imported, then never logged in."""
    path = _jsonl(tmp_path, [_row(1, password_hash=password_hash)])
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1
    assert "line 1: password_hash: scrypt parameters need more than 1 GiB" in result.output
    assert _count(import_app) == 0


@pytest.mark.parametrize("prefix", ["", "bcrypt_sha256$", "flask-security$"])
def test_a_bcrypt_hash_costlier_than_16_is_a_bad_row(import_app, tmp_path, prefix):
    """Cost 31 was accepted: each login attempt on that account then hashed for about
    a day and a half, holding one of the few hashing threads."""
    costly = prefix + "$2b$31$" + "a" * 53
    path = _jsonl(tmp_path, [_row(1, password_hash=costly)])
    result = _run(import_app, ["users", "import", str(path), "--dry-run"])
    assert result.exit_code == 1
    assert "line 1: password_hash: bcrypt cost above 16" in result.output
    fine = _jsonl(tmp_path, [_row(1, password_hash=prefix + "$2b$16$" + "a" * 53)], "ok.jsonl")
    assert _run(import_app, ["users", "import", str(fine), "--dry-run"]).exit_code == 0


def test_an_argon2_hash_with_more_than_16_lanes_is_a_bad_row(import_app, tmp_path):
    """argon2 runs a thread per lane at every check; 1 GiB allowed p=131,072."""
    many = argon2.low_level.hash_secret(
        b"pw", b"sixteen byte slt", time_cost=1, memory_cost=8 * 17, parallelism=17,
        hash_len=32, type=argon2.Type.ID,
    ).decode()  # fmt: skip
    result = _run(
        import_app, ["users", "import", str(_jsonl(tmp_path, [_row(1, password_hash=many)]))]
    )
    assert result.exit_code == 1
    assert "line 1: password_hash: argon2 parameters too large" in result.output


def test_unknown_columns_are_refused(import_app, tmp_path):
    path = _jsonl(tmp_path, [_row(1), _row(2, password="plain")])
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: unknown column(s): password" in result.output
    columns = ["email", "name", "password_hash", "last_login"]
    path = _csv(tmp_path, [{**_row(1), "last_login": "2020-01-01"}], columns)
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1 and "line 1: unknown column(s): last_login" in result.output
    assert _count(import_app) == 0


def test_csv_rows_are_numbered_by_file_line_even_with_multi_line_fields(import_app, tmp_path):
    path = tmp_path / "users.csv"
    good = _row(1)["password_hash"]
    path.write_text(
        "email,name,password_hash\n"
        f'a@example.com,"Two\nlines",{good}\n'
        f"b@example.com,,{good}\n"
        f"c@example.com,C,{good},extra\n",
        encoding="utf-8",
    )
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1
    # Names follow registration's rules (no line breaks); the field spans two lines...
    assert "line 2: name: Name must not contain control" in result.output
    assert "line 4: missing name" in result.output  # ...so the next row is on line 4
    assert "line 5: 4 fields but 3 columns" in result.output


def test_a_file_that_is_not_utf8_is_refused_with_its_line(import_app, tmp_path):
    path = tmp_path / "users.jsonl"
    path.write_bytes(json.dumps(_row(1)).encode() + b"\n" + b'{"name": "caf\xe9"}\n')
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1 and "line 2: not UTF-8 text" in result.output
    assert _count(import_app) == 0


def test_conflicts_with_the_database_fail_by_default_or_are_skipped(import_app, tmp_path):
    register(import_app.test_client(), email="user2@example.com")
    path = _jsonl(tmp_path, [_row(index) for index in range(1, 4)])
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: user2@example.com already has an account" in result.output
    assert _count(import_app) == 1
    result = _run(import_app, ["users", "import", str(path), "--on-conflict", "skip"])
    assert result.exit_code == 0, result.output
    assert "Imported 2 user(s), 1 skipped" in result.output
    assert _count(import_app) == 3
    assert _user(import_app, "user2@example.com").name == "Alice"  # untouched


ACE_CYRILLIC = "\u0430\u0441\u0435@example.com"  # looks like ace@example.com


def _register_ace_lookalike(client: FlaskClient) -> TestResponse:
    """Register the Cyrillic look-alike of ace@example.com."""
    return client.post(
        "/api/auth/register",
        json={
            "name": "X",
            "email": ACE_CYRILLIC,
            "password": OLD_PASSWORD,
            "passwordConfirm": OLD_PASSWORD,
        },
    )


@pytest.mark.parametrize("batch_size", ["1000", "1"])
def test_imported_addresses_keep_their_lookalikes_out(import_app, tmp_path, batch_size):
    """Two accounts never look alike (TR39 skeleton, as at registration): an imported
    address keeps a registration of its look-alike out, and two look-alike rows in one
    file, or a row that looks like an existing account, are bad rows."""
    path = _jsonl(tmp_path, [_row(1, email="ace@example.com")])
    result = _run(import_app, ["users", "import", str(path), "--batch-size", batch_size])
    assert result.exit_code == 0, result.output
    client = import_app.test_client()
    response = _register_ace_lookalike(client)
    assert response.status_code == 409, response.json
    assert _count(import_app) == 1

    again = _jsonl(
        tmp_path,
        [_row(2, email="joe@example.com"), _row(3, email="\u0458\u043e\u0435@example.com")],
        name="again.jsonl",
    )
    result = _run(import_app, ["users", "import", str(again), "--batch-size", batch_size])
    assert result.exit_code == 1
    assert "line 2: " in result.output and "looks like joe@example.com on line 1" in result.output
    assert _count(import_app) == 1

    clash = _jsonl(tmp_path, [_row(4, email=ACE_CYRILLIC)], name="clash.jsonl")
    result = _run(import_app, ["users", "import", str(clash), "--batch-size", batch_size])
    assert result.exit_code == 1
    assert f"line 1: {ACE_CYRILLIC} already has an account" in result.output
    result = _run(
        import_app,
        ["users", "import", str(clash), "--batch-size", batch_size, "--on-conflict", "skip"],
    )
    assert result.exit_code == 0, result.output
    assert "Imported 0 user(s), 1 skipped" in result.output
    assert _count(import_app) == 1


def test_the_migration_gives_earlier_imports_their_skeleton(import_app, tmp_path):
    """Rows an earlier release imported without a skeleton get theirs from 0008; one
    that looks like an account that has its skeleton keeps NULL."""
    from flask_migrate import downgrade, upgrade

    path = _jsonl(tmp_path, [_row(1, email="ace@example.com"), _row(2, email="joe@example.com")])
    assert _run(import_app, ["users", "import", str(path)]).exit_code == 0
    with import_app.app_context():  # as the earlier release left them
        db.session.execute(db.update(User).values(email_skeleton=None))
        db.session.commit()
        db.session.remove()
    joe_lookalike = "\u0458\u043e\u0435@example.com"
    register(import_app.test_client(), email=joe_lookalike)  # possible before the fix
    with import_app.app_context():
        downgrade(revision="0007_passkeys")
        upgrade()
        shapes = dict(db.session.execute(select(User.email, User.email_skeleton)).all())
        db.session.remove()
    assert shapes == {
        "ace@example.com": "ace@example.com",
        "joe@example.com": None,
        joe_lookalike: "joe@example.com",
    }
    response = _register_ace_lookalike(import_app.test_client())
    assert response.status_code == 409


def test_a_bad_row_after_written_batches_leaves_nothing_behind(import_app, tmp_path):
    """Batches are written while the file is read; a bad row further down (here an
    address registered while the import runs) rolls every written batch back."""
    path = _jsonl(tmp_path, [_row(index) for index in range(1, 10)])
    written: list[int] = []

    def progress(done: int) -> None:
        written.append(done)
        if len(written) == 1:  # batch 1 (lines 1-2) is in: someone registers line 7's
            # From another thread: its request gets its own app context and session.
            other = threading.Thread(
                target=register,
                args=(import_app.test_client(),),
                kwargs={"email": "user7@example.com"},
            )
            other.start()
            other.join()

    with import_app.app_context():
        with pytest.raises(user_transfer.ImportRefused) as refused:
            user_transfer.import_file(path, "jsonl", batch_size=2, on_progress=progress)
        db.session.remove()
    assert [(error.line, error.message) for error in refused.value.errors] == [
        (7, "user7@example.com already has an account")
    ]
    assert len(written) >= 3  # batches 1-3 were written before line 7's batch
    assert _count(import_app) == 1  # only the concurrent registration remains


def test_the_database_going_away_half_way_rolls_back_and_is_reported(
    import_app, tmp_path, database_url
):
    """The import's own connection is killed after its first batch: the import fails
    cleanly (no traceback for the operator) and the batch already written is gone."""
    path = _jsonl(tmp_path, [_row(index) for index in range(1, 8)])

    def kill_own_connection(done: int) -> None:
        pid = db.session.connection().connection.dbapi_connection.get_backend_pid()
        admin = psycopg2.connect(database_url.replace("+psycopg2", ""))
        admin.autocommit = True
        with admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        admin.close()

    with import_app.app_context():
        with pytest.raises(user_transfer.ImportFailed):
            user_transfer.import_file(path, "jsonl", batch_size=2, on_progress=kill_own_connection)
        db.session.remove()
    assert _count(import_app) == 0


def test_export_writes_the_import_format_and_round_trips(import_app, tmp_path):
    """A disabled account stays disabled: the export used to leave the flag out, so a
    round trip re-enabled it."""
    rows = [
        _row(1, role="admin", verified=True, created_at="2021-02-03T04:05:06+00:00"),
        _row(2, password_hash=_hash("werkzeug-scrypt")),
        _row(3, disabled=True),
    ]
    assert _run(import_app, ["users", "import", str(_jsonl(tmp_path, rows))]).exit_code == 0
    for extension in ("jsonl", "csv"):
        out = tmp_path / f"export.{extension}"
        result = _run(import_app, ["users", "export", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_mode & 0o077 == 0  # hashes inside: owner only
        if extension == "jsonl":
            exported = [json.loads(line) for line in out.read_text().splitlines()]
            assert exported[0] == {**rows[0], "verified": True, "role": "admin", "disabled": False}
            by_email = {row["email"]: row for row in exported}  # 2 and 3: created at once
            assert by_email["user2@example.com"]["password_hash"] == rows[1]["password_hash"]
            assert [by_email[row["email"]]["disabled"] for row in rows] == [False, False, True]
        else:
            with out.open(newline="") as stream:
                exported = list(csv.DictReader(stream))
            assert list(exported[0]) == [
                "email",
                "name",
                "password_hash",
                "role",
                "verified",
                "disabled",
                "created_at",
            ]
            assert exported[0]["verified"] == "true"
            by_email = {row["email"]: row for row in exported}
            assert [by_email[row["email"]]["disabled"] for row in rows] == [
                "false",
                "false",
                "true",
            ]
        with import_app.app_context():
            db.session.execute(User.__table__.delete())
            db.session.commit()
        assert _run(import_app, ["users", "import", str(out)]).exit_code == 0
        assert _count(import_app) == 3
        assert _login(import_app, "user2@example.com", OLD_PASSWORD).status_code == 200
        assert _user(import_app, "user3@example.com").disabled is True
        refused = _login(import_app, "user3@example.com", OLD_PASSWORD)
        assert refused.status_code == 403, refused.json


def test_export_over_an_existing_file_leaves_it_owner_only(import_app, tmp_path):
    """Truncating an existing file kept its mode: a world-readable old export (or a file
    someone else made first in a shared directory) received the hashes."""
    assert _run(import_app, ["users", "import", str(_jsonl(tmp_path, [_row(1)]))]).exit_code == 0
    out = tmp_path / "export.jsonl"
    out.write_text("an older export\n" * 100)
    out.chmod(0o644)
    result = _run(import_app, ["users", "export", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o077 == 0
    [line] = out.read_text().splitlines()
    assert json.loads(line)["email"] == "user1@example.com"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["export.jsonl", "users.jsonl"]


def test_accounts_without_a_password_round_trip(make_app, smtp_sink, tmp_path):
    """Accounts made through a provider or an emailed code have no password (a hash
    nothing matches): exported, they import again, still with no usable password."""
    app = make_app(OTP_SIGNUP=True, **FOREIGN_CONFIG, **smtp_sink.config)
    client = app.test_client()
    assert client.post("/api/auth/otp", json={"email": "otto@example.com"}).status_code == 200
    delivered(app, smtp_sink)
    mail = next(m for m in smtp_sink.messages if "Your sign-in code is" in m.text)
    code = mail.subject.rsplit(" ", 1)[-1]
    signed_in = client.post(
        "/api/auth/otp/verify", json={"email": "otto@example.com", "code": code}
    )
    assert signed_in.status_code == 200
    register(client, email="pia@example.com")
    out = tmp_path / "export.jsonl"
    assert _run(app, ["users", "export", str(out)]).exit_code == 0
    with app.app_context():
        db.session.execute(User.__table__.delete())
        db.session.commit()
    result = _run(app, ["users", "import", str(out)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 user(s)" in result.output
    exported = {row["email"]: row["password_hash"] for row in map(json.loads, out.open())}
    assert _user(app, "otto@example.com").password == exported["otto@example.com"]
    assert _login(app, "otto@example.com", exported["otto@example.com"]).status_code == 400
    assert _login(app, "pia@example.com", PASSWORD).status_code == 200


def test_export_says_how_many_accounts_lose_what_it_does_not_carry(import_app):
    """Second factors, passkeys and provider links stay behind (docs/passwords.md): the
    operator is told how many accounts that concerns, on stderr."""
    client = import_app.test_client()
    register(client, email="plain@example.com")
    register(client, email="linked@example.com")
    with import_app.app_context():
        linked = db.session.scalar(select(User).where(User.email == "linked@example.com"))
        db.session.add(Identity(user_id=linked.id, provider="github", subject="42"))
        db.session.commit()
    result = _run(import_app, ["users", "export"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == (
        "Not in the file: the second factors, passkeys and provider links of 1 of them "
        "(set up again after an import)."
    )


def test_export_to_stdout(import_app):
    register(import_app.test_client())
    result = _run(import_app, ["users", "export"])
    assert result.exit_code == 0
    [line] = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert json.loads(line)["email"] == "alice@example.com"


def test_firebase_hashes_need_the_signer_key_to_be_imported(make_app, tmp_path):
    path = _jsonl(tmp_path, [_row(1, password_hash=_hash("firebase-scrypt"))])
    result = _run(make_app(), ["users", "import", str(path)])
    assert result.exit_code == 1
    assert "line 1: password_hash: Firebase scrypt hashes need FIREBASE_SCRYPT_SIGNER_KEY" in (
        result.output
    )


def test_an_unknown_extension_needs_format(import_app, tmp_path):
    path = _jsonl(tmp_path, [_row(1)], name="users.txt")
    result = _run(import_app, ["users", "import", str(path)])
    assert result.exit_code == 2 and "--format" in result.output
    assert _run(import_app, ["users", "import", str(path), "--format", "jsonl"]).exit_code == 0


def _subscribe(app, events: list[str]) -> None:
    with app.app_context():
        db.session.add(
            WebhookEndpoint(url="https://hooks.example.com/in", events=events, secret=new_secret())
        )
        db.session.commit()


def _events(app) -> list[WebhookEvent]:
    with app.app_context():
        found = list(db.session.scalars(select(WebhookEvent)))
        db.session.expunge_all()
        return found


def test_imported_users_are_announced_to_webhooks_in_the_import_transaction(import_app, tmp_path):
    _subscribe(import_app, ["user.created"])
    rows = [_row(index) for index in range(3)]
    result = _run(import_app, ["users", "import", str(_jsonl(tmp_path, rows)), "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    events = _events(import_app)
    assert sorted(json.loads(event.body)["data"]["user"]["email"] for event in events) == [
        f"user{index}@example.com" for index in range(3)
    ]
    assert {event.type for event in events} == {"user.created"}
    assert {str(event.user_id) for event in events} == {
        str(_user(import_app, f"user{index}@example.com").id) for index in range(3)
    }
    # A refused import (a bad row after a written batch) announces nobody.
    bad = [_row(10), _row(11), _row(12, email="not an email")]
    result = _run(import_app, ["users", "import", str(_jsonl(tmp_path, bad, name="bad.jsonl"))])
    assert result.exit_code != 0
    assert len(_events(import_app)) == 3


def test_imports_write_no_events_when_no_webhook_wants_them(import_app, tmp_path):
    _subscribe(import_app, ["user.deleted"])
    result = _run(import_app, ["users", "import", str(_jsonl(tmp_path, [_row(1)]))])
    assert result.exit_code == 0, result.output
    assert _events(import_app) == []


def test_the_before_user_created_hook_decides_each_imported_row(make_app, receiver, tmp_path):
    secret = new_secret()
    app = make_app(**FOREIGN_CONFIG, HOOK_BEFORE_USER_CREATED_URL=receiver.url, HOOK_SECRET=secret)
    receiver.answer(*[Answer(200, {"decision": "reject", "message": "No imports today"})] * 2)
    result = _run(app, ["users", "import", str(_jsonl(tmp_path, [_row(1), _row(2)]))])
    assert result.exit_code != 0
    assert "line 1: refused by the sign-up hook: No imports today" in result.output
    assert "line 2: refused by the sign-up hook: No imports today" in result.output
    assert _count(app) == 0
    receiver.answer(Answer(200, {"decision": "continue"}))
    result = _run(app, ["users", "import", str(_jsonl(tmp_path, [_row(3)], name="ok.jsonl"))])
    assert result.exit_code == 0, result.output
    assert _count(app) == 1
    payload = receiver.received[-1].verified(secret)
    assert payload["data"] == {
        "user": {"email": "user3@example.com", "name": "User 3"},
        "source": "import",
    }
