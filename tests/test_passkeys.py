"""Passkeys through HTTP on real PostgreSQL and Redis, answered by a software
authenticator (tests/support/soft_authenticator.py) and verified by py_webauthn.

Expiry runs a second app whose clock is ahead (CLOCK_OFFSET), never a sleep.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text

from authapi.configuration import ConfigurationError
from authapi.extensions import db
from authapi.mfa import reauth
from authapi.passkeys import service
from authapi.passkeys.models import Passkey
from tests.helpers import PASSWORD, assert_fail, bearer, login, post_json_status, register
from tests.support.passkeys import (
    PASSKEYS,
    add_passkey,
    login_options,
    passkey_login,
    registration_options,
)
from tests.support.smtp_sink import delivered, reset_by_mail, sign_in_by_code, verify_by_mail
from tests.support.soft_authenticator import FLAG_BE, FLAG_UP, SoftAuthenticator, b64url

TOKEN_MODE = {"X-Auth-Mode": "token"}


def events_named(app, name: str) -> list[dict]:
    with app.app_context():
        result = db.session.execute(
            text("SELECT * FROM auth_events WHERE event = :name ORDER BY created_at, id"),
            {"name": name},
        )
        found = [dict(row._mapping) for row in result]
        db.session.remove()
    return found


def stored_passkeys(app) -> list[Passkey]:
    with app.app_context():
        found = list(db.session.scalars(select(Passkey).order_by(Passkey.created_at)))
        db.session.expunge_all()
        db.session.remove()
    return found


def signed_in(app, email: str = "alice@example.com", name: str = "Alice"):
    client = app.test_client()
    user = register(client, email=email, name=name)
    login(client, email=email)
    return client, user


def assert_no_session_started(response) -> None:
    assert "Set-Cookie" not in response.headers
    assert "access_token" not in response.get_json()


# --- the happy paths -----------------------------------------------------------------


def test_register_then_sign_in_with_no_email_and_no_password(app):
    client, user = signed_in(app)
    authenticator = SoftAuthenticator()
    passkey = add_passkey(client, authenticator, name="Work laptop")
    assert set(passkey) == {"id", "name", "created_at", "last_used_at", "backed_up"}
    assert passkey["name"] == "Work laptop"
    assert passkey["last_used_at"] is None
    assert passkey["backed_up"] is False

    stranger = app.test_client()  # a fresh browser: no cookies, nothing typed
    response = passkey_login(stranger, authenticator)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "success"
    for name in ("access_token", "refresh_token", "logged_in"):
        assert stranger.get_cookie(name, path="/api/auth" if name == "refresh_token" else "/")
    me = stranger.get("/api/users/me")
    assert me.status_code == 200
    assert me.json["data"]["user"]["id"] == user["id"]

    listed = client.get(PASSKEYS).json["data"]["passkeys"]
    assert [item["id"] for item in listed] == [passkey["id"]]
    assert listed[0]["last_used_at"] is not None
    [stored] = stored_passkeys(app)
    assert stored.sign_count == 1
    assert stored.transports == ["internal", "hybrid"]
    assert stored.credential_id == next(iter(authenticator.credentials))

    [added] = events_named(app, "passkey_added")
    assert added["details"] == {"passkey_id": passkey["id"]}
    [used] = events_named(app, "passkey_used")
    assert used["details"] == {"passkey_id": passkey["id"], "via": "login"}
    assert str(used["user_id"]) == user["id"]


def test_token_mode_passkey_login_answers_in_the_body(app):
    client, _ = signed_in(app)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    response = passkey_login(app.test_client(), authenticator, headers=TOKEN_MODE)
    assert response.status_code == 200
    assert response.json["token_type"] == "Bearer"
    assert response.json["refresh_token"]
    assert "Set-Cookie" not in response.headers
    me = app.test_client().get(
        "/api/users/me", headers={"Authorization": f"Bearer {response.json['access_token']}"}
    )
    assert me.status_code == 200


def test_options_ask_for_a_discoverable_user_verified_credential(app):
    client, user = signed_in(app)
    authenticator = SoftAuthenticator()
    options = registration_options(client)
    assert options["rp"] == {"id": "localhost", "name": "authapi"}
    assert options["user"]["id"] == b64url(uuid.UUID(user["id"]).bytes)
    assert options["user"]["name"] == "alice@example.com"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert options["timeout"] == 300_000
    assert options["excludeCredentials"] == []

    add_passkey(client, authenticator)
    again = registration_options(client)
    credential_id = next(iter(authenticator.credentials))
    assert [item["id"] for item in again["excludeCredentials"]] == [b64url(credential_id)]

    sign_in = login_options(app.test_client())
    assert sign_in["rpId"] == "localhost"
    assert sign_in["userVerification"] == "required"
    assert sign_in.get("allowCredentials", []) == []
    assert sign_in["challenge"] != again["challenge"]


def test_several_named_passkeys_can_be_renamed_and_listed(app):
    client, _ = signed_in(app)
    first = add_passkey(client, SoftAuthenticator(), name="  Phone  ")
    second = add_passkey(client, SoftAuthenticator(), name=None)
    assert first["name"] == "Phone"
    assert second["name"] == "Passkey"
    response = client.patch(f"{PASSKEYS}/{second['id']}", json={"name": "Security key"})
    assert response.status_code == 200
    assert response.json["data"]["passkey"]["name"] == "Security key"
    listed = client.get(PASSKEYS).json["data"]["passkeys"]
    assert [item["name"] for item in listed] == ["Phone", "Security key"]
    [renamed] = events_named(app, "passkey_renamed")
    assert renamed["details"] == {"passkey_id": second["id"]}

    for bad in ("", "   ", "x" * 65, "evil\u202ename", None, 5):
        assert_fail(client.patch(f"{PASSKEYS}/{first['id']}", json={"name": bad}), 400)


def test_synced_passkeys_store_their_backup_flags_and_work_without_a_counter(app):
    client, _ = signed_in(app)
    synced = SoftAuthenticator(backup_eligible=True, backed_up=True, counter_step=0)
    passkey = add_passkey(client, synced)
    assert passkey["backed_up"] is True
    for _ in range(2):  # a counter that stays 0 is no regression
        assert passkey_login(app.test_client(), synced).status_code == 200
    [stored] = stored_passkeys(app)
    assert (stored.backup_eligible, stored.backed_up, stored.sign_count) == (True, True, 0)

    synced.backed_up = False  # the backup state may change from one use to the next
    assert passkey_login(app.test_client(), synced).status_code == 200
    assert client.get(PASSKEYS).json["data"]["passkeys"][0]["backed_up"] is False


def test_passkeys_are_mailed_to_their_owner_when_added_and_removed(mail_app, smtp_sink):
    client, _ = signed_in(mail_app)
    passkey = add_passkey(client, SoftAuthenticator(), name="Kitchen tablet")
    delivered(mail_app, smtp_sink)
    [added] = [mail for mail in smtp_sink.messages if "added" in mail.subject]
    assert "alice@example.com" in added.envelope_to
    assert "passkey" in added.text
    response = client.delete(f"{PASSKEYS}/{passkey['id']}", json={"password": PASSWORD})
    assert response.status_code == 200
    delivered(mail_app, smtp_sink)
    [removed] = [mail for mail in smtp_sink.messages if "removed" in mail.subject]
    assert "passkey" in removed.text


# --- what must be refused --------------------------------------------------------------


def _with_passkey(app, **authenticator_options):
    client, user = signed_in(app)
    authenticator = SoftAuthenticator(**authenticator_options)
    passkey = add_passkey(client, authenticator)
    return client, user, authenticator, passkey


def test_an_assertion_for_another_rp_id_is_refused(app):
    _, user, authenticator, passkey = _with_passkey(app)
    response = passkey_login(app.test_client(), authenticator, rp_id="evil.example")
    assert_fail(response, 400, service.PASSKEY_REFUSED)
    assert response.json["code"] == "passkey_refused"
    assert_no_session_started(response)
    [failed] = events_named(app, "passkey_failed")
    assert failed["details"] == {"reason": "verification", "passkey_id": passkey["id"]}
    assert str(failed["user_id"]) == user["id"]


def test_an_assertion_from_another_origin_is_refused(app):
    _, _, authenticator, _ = _with_passkey(app)
    for origin in ("https://evil.example", "http://localhost:9999", "http://localhost"):
        response = passkey_login(app.test_client(), authenticator, origin=origin)
        assert_fail(response, 400, service.PASSKEY_REFUSED)
        assert_no_session_started(response)


def test_a_replayed_challenge_is_refused(app):
    _, _, authenticator, _ = _with_passkey(app)
    client = app.test_client()
    options = login_options(client)
    first = authenticator.get(options)
    assert client.post(f"{PASSKEYS}/login", json={"credential": first}).status_code == 200
    # The same answer again, and a fresh signature over the spent challenge.
    for credential in (first, authenticator.get(options)):
        response = app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential})
        assert_fail(response, 400, service.CHALLENGE_FAILED)
        assert response.json["code"] == "passkey_challenge_failed"
        assert_no_session_started(response)
    assert [row["details"]["reason"] for row in events_named(app, "passkey_failed")] == [
        "challenge",
        "challenge",
    ]


def test_a_challenge_nobody_issued_is_refused(app):
    _, _, authenticator, _ = _with_passkey(app)
    options = {"challenge": b64url(b"x" * 32), "rpId": "localhost"}
    credential = authenticator.get(options)
    response = app.test_client().post(f"{PASSKEYS}/login", json={"credential": credential})
    assert_fail(response, 400, service.CHALLENGE_FAILED)


def test_an_expired_challenge_is_refused(app, make_app):
    _, _, authenticator, _ = _with_passkey(app)
    almost = make_app(CLOCK_OFFSET=299)
    later = make_app(CLOCK_OFFSET=301)
    credential = authenticator.get(login_options(app.test_client()))
    response = later.test_client().post(f"{PASSKEYS}/login", json={"credential": credential})
    assert_fail(response, 400, service.CHALLENGE_FAILED)
    credential = authenticator.get(login_options(app.test_client()))
    response = almost.test_client().post(f"{PASSKEYS}/login", json={"credential": credential})
    assert response.status_code == 200


def test_a_registration_challenge_expires_and_is_single_use(app, make_app):
    client, _ = signed_in(app)
    authenticator = SoftAuthenticator()
    token = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE,
    ).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    credential = authenticator.create(registration_options(client))
    later = make_app(CLOCK_OFFSET=301).test_client()
    assert_fail(
        later.post(f"{PASSKEYS}/register", json={"credential": credential}, headers=bearer),
        400,
        service.CHALLENGE_FAILED,
    )
    credential = authenticator.create(registration_options(client))
    assert client.post(f"{PASSKEYS}/register", json={"credential": credential}).status_code == 201
    assert_fail(
        client.post(f"{PASSKEYS}/register", json={"credential": credential}),
        400,
        service.CHALLENGE_FAILED,
    )


def test_a_sign_counter_going_backwards_is_refused(app):
    _, _, authenticator, passkey = _with_passkey(app)
    for _ in range(3):
        assert passkey_login(app.test_client(), authenticator).status_code == 200
    assert stored_passkeys(app)[0].sign_count == 3
    for count in (3, 2, 0):  # the same count again, lower, and back to zero
        response = passkey_login(app.test_client(), authenticator, sign_count=count)
        assert_fail(response, 400, service.PASSKEY_REFUSED)
        assert_no_session_started(response)
    reasons = [row["details"]["reason"] for row in events_named(app, "passkey_failed")]
    assert reasons == ["counter", "counter", "counter"]
    assert stored_passkeys(app)[0].sign_count == 3
    assert passkey_login(app.test_client(), authenticator).status_code == 200  # count 7
    assert stored_passkeys(app)[0].sign_count == 7
    assert events_named(app, "passkey_failed")[0]["details"]["passkey_id"] == passkey["id"]


def test_one_users_credential_cannot_sign_in_as_another(app):
    _, alice, alice_key, _ = _with_passkey(app)
    mallory_client, mallory = signed_in(app, "mallory@example.com", "Mallory")
    mallory_key = SoftAuthenticator()
    add_passkey(mallory_client, mallory_key)
    alice_handle = uuid.UUID(alice["id"]).bytes

    # Mallory's own key, claiming to be Alice's account.
    response = passkey_login(app.test_client(), mallory_key, user_handle=alice_handle)
    assert_fail(response, 400, service.PASSKEY_REFUSED)
    assert_no_session_started(response)
    # Mallory's key signing for Alice's credential id: the signature does not match.
    [mallory_credential] = mallory_key.credentials.values()
    response = passkey_login(
        app.test_client(),
        alice_key,
        signer=mallory_credential.private_key,
        user_handle=alice_handle,
    )
    assert_fail(response, 400, service.PASSKEY_REFUSED)
    # A discoverable answer must name its account.
    response = passkey_login(app.test_client(), alice_key, user_handle=None)
    assert_fail(response, 400, service.PASSKEY_REFUSED)
    reasons = [row["details"]["reason"] for row in events_named(app, "passkey_failed")]
    assert reasons == ["user_handle", "verification", "user_handle"]
    assert [key.sign_count for key in stored_passkeys(app)] == [0, 0]  # none counted
    # And Mallory's own login is Mallory.
    ok = passkey_login(app.test_client(), mallory_key, headers=TOKEN_MODE)
    me = app.test_client().get(
        "/api/users/me", headers={"Authorization": f"Bearer {ok.json['access_token']}"}
    )
    assert me.json["data"]["user"]["id"] == mallory["id"]


def test_an_assertion_without_user_verification_or_presence_is_refused(app):
    _, _, authenticator, _ = _with_passkey(app)
    for flags in (FLAG_UP, 0):
        response = passkey_login(app.test_client(), authenticator, flags=flags)
        assert_fail(response, 400, service.PASSKEY_REFUSED)


def test_a_change_of_backup_eligibility_is_refused(app):
    _, _, authenticator, _ = _with_passkey(app)
    response = passkey_login(
        app.test_client(), authenticator, flags=authenticator._flags() | FLAG_BE
    )
    assert_fail(response, 400, service.PASSKEY_REFUSED)
    [failed] = events_named(app, "passkey_failed")
    assert failed["details"]["reason"] == "backup_eligibility"


def test_a_removed_passkey_no_longer_signs_in(app):
    client, _, authenticator, passkey = _with_passkey(app)
    url = f"{PASSKEYS}/{passkey['id']}"
    assert_fail(client.delete(url, json={}), 400, "Invalid input")
    assert_fail(
        client.delete(url, json={"password": "wrong password"}), 400, reauth.INVALID_PASSWORD
    )
    assert client.get(PASSKEYS).json["data"]["passkeys"] != []
    response = client.delete(url, json={"password": PASSWORD})
    assert response.status_code == 200
    assert response.json == {"status": "success"}
    assert client.get(PASSKEYS).json["data"]["passkeys"] == []
    assert_fail(client.delete(url, json={"password": PASSWORD}), 404, service.PASSKEY_NOT_FOUND)
    response = passkey_login(app.test_client(), authenticator)
    assert_fail(response, 400, service.PASSKEY_UNKNOWN)
    assert response.json["code"] == "passkey_unknown"
    [removed] = events_named(app, "passkey_removed")
    assert removed["details"] == {"passkey_id": passkey["id"]}


def test_nobody_manages_someone_elses_passkeys(app):
    _, _, _, passkey = _with_passkey(app)
    bob, _ = signed_in(app, "bob@example.com", "Bob")
    url = f"{PASSKEYS}/{passkey['id']}"
    response = bob.patch(url, json={"name": "mine now"})
    assert_fail(response, 404, service.PASSKEY_NOT_FOUND)
    assert response.json["code"] == "passkey_not_found"
    assert_fail(bob.delete(url, json={"password": PASSWORD}), 404, service.PASSKEY_NOT_FOUND)
    assert bob.get(PASSKEYS).json["data"]["passkeys"] == []
    assert_fail(bob.patch(f"{PASSKEYS}/{uuid.uuid4()}", json={"name": "x"}), 404)
    assert_fail(bob.delete(f"{PASSKEYS}/not-a-uuid", json={"password": PASSWORD}), 404)
    assert stored_passkeys(app)[0].name == "My laptop"


def test_registration_refusals(app):
    client, _ = signed_in(app)
    bob, _ = signed_in(app, "bob@example.com", "Bob")
    authenticator = SoftAuthenticator()

    # Bob's challenge cannot register a key on Alice's account.
    credential = authenticator.create(registration_options(bob), keep=False)
    assert_fail(
        client.post(f"{PASSKEYS}/register", json={"credential": credential}),
        400,
        service.CHALLENGE_FAILED,
    )
    bent = [
        {"origin": "https://evil.example"},
        {"rp_id": "evil.example"},
        {"flags": FLAG_UP | 0x40},  # no user verification
        {"type": "webauthn.get"},
    ]
    for bend in bent:
        credential = authenticator.create(registration_options(client), keep=False, **bend)
        response = client.post(f"{PASSKEYS}/register", json={"credential": credential})
        assert_fail(response, 400, service.REGISTRATION_REFUSED)
    assert stored_passkeys(app) == []
    reasons = [row["details"]["reason"] for row in events_named(app, "passkey_failed")]
    assert reasons == ["challenge"] + ["registration"] * len(bent)

    # The same credential id twice (on Alice's, then on Bob's account): one row.
    credential_id = b"same credential id"
    add = authenticator.create(registration_options(client), credential_id=credential_id)
    assert client.post(f"{PASSKEYS}/register", json={"credential": add}).status_code == 201
    again = authenticator.create(registration_options(bob), credential_id=credential_id)
    response = bob.post(f"{PASSKEYS}/register", json={"credential": again})
    assert_fail(response, 409, service.ALREADY_REGISTERED)
    assert response.json["code"] == "passkey_already_registered"
    assert len(stored_passkeys(app)) == 1


def test_a_disabled_account_cannot_sign_in_with_its_passkey(app):
    _, user, authenticator, _ = _with_passkey(app)
    with app.app_context():
        db.session.execute(
            text("UPDATE users SET disabled = true WHERE id = :id"), {"id": user["id"]}
        )
        db.session.commit()
        db.session.remove()
    response = passkey_login(app.test_client(), authenticator)
    assert_fail(response, 403, "Your account has been disabled")
    assert_no_session_started(response)


def test_deleting_the_account_deletes_its_passkeys(app):
    _, _, authenticator, _ = _with_passkey(app)
    with app.app_context():
        db.session.execute(text("DELETE FROM users"))
        db.session.commit()
        db.session.remove()
    assert stored_passkeys(app) == []
    assert_fail(passkey_login(app.test_client(), authenticator), 400, service.PASSKEY_UNKNOWN)


def test_passkey_routes_need_a_login(app):
    client = app.test_client()
    some_id = uuid.uuid4()
    for method, path in (
        ("post", f"{PASSKEYS}/register/options"),
        ("post", f"{PASSKEYS}/register"),
        ("get", PASSKEYS),
        ("patch", f"{PASSKEYS}/{some_id}"),
        ("delete", f"{PASSKEYS}/{some_id}"),
    ):
        assert_fail(getattr(client, method)(path, json={}), 401, "You are not logged in")


def test_cookie_requests_from_another_site_are_refused(app):
    client, _ = signed_in(app)
    response = client.post(
        f"{PASSKEYS}/register/options", headers={"Origin": "https://evil.example"}
    )
    assert_fail(response, 403, "Cross-site request refused")


# --- rate limits and settings ----------------------------------------------------------


def test_passkey_sign_in_is_rate_limited_per_address(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_PER_ADDRESS="3 per minute")
    client = limited.test_client()
    for _ in range(3):
        assert client.post(f"{PASSKEYS}/login/options").status_code == 200
    response = client.post(f"{PASSKEYS}/login", json={})
    assert_fail(response, 429)
    assert response.headers["Retry-After"]


def test_wrong_passwords_when_removing_are_limited_per_account(make_app):
    limited = make_app(MFA_ATTEMPTS_PER_ACCOUNT=2)
    client, _, _, passkey = _with_passkey(limited)
    url = f"{PASSKEYS}/{passkey['id']}"
    for _ in range(2):
        assert_fail(client.delete(url, json={"password": "nope nope"}), 400)
    assert_fail(client.delete(url, json={"password": PASSWORD}), 429)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"WEBAUTHN_RP_ID": "https://example.com"}, "WEBAUTHN_RP_ID must be a domain name"),
        ({"WEBAUTHN_RP_ID": "example.com:443"}, "WEBAUTHN_RP_ID must be a domain name"),
        ({"WEBAUTHN_RP_NAME": " "}, "WEBAUTHN_RP_NAME must not be empty"),
        ({"WEBAUTHN_ORIGINS": ()}, "at least one origin"),
        (
            {"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": ("http://example.com",)},
            "must use https",
        ),
        (
            {"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": ("https://example.org",)},
            "is not on the domain example.com",
        ),
        (
            {"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_ORIGINS": ("https://notexample.com",)},
            "is not on the domain example.com",
        ),
        ({"WEBAUTHN_ORIGINS": ("http://localhost:8000/login",)}, "scheme://host[:port] only"),
        ({"WEBAUTHN_ORIGINS": ("localhost:8000",)}, "is not an origin"),
    ],
)
def test_relying_party_settings_are_checked_at_startup(base_config, settings, complaint):
    from authapi import create_app

    with pytest.raises(ConfigurationError, match=re.escape(complaint)):
        create_app({**base_config, **settings})


def test_a_production_relying_party_on_subdomains_starts(base_config):
    from authapi import create_app

    create_app(
        {
            **base_config,
            "WEBAUTHN_RP_ID": "example.com",
            "WEBAUTHN_ORIGINS": ("https://example.com", "https://app.example.com:8443"),
        }
    )


@pytest.mark.live_server
def test_concurrent_answers_with_one_counter_value_sign_in_once(app, live_server):
    """A cloned authenticator racing itself: ten answers to ten challenges, all with the
    same counter, sent at once. Whatever the interleaving, the conditional UPDATE lets
    exactly one through."""
    _, _, authenticator, _ = _with_passkey(app)
    server = live_server(app)
    credentials = [
        authenticator.get(login_options(app.test_client()), sign_count=5) for _ in range(10)
    ]
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(
            pool.map(
                lambda credential: post_json_status(
                    f"{server.url}{PASSKEYS}/login", {"credential": credential}
                ),
                credentials,
            )
        )
    assert sorted(statuses) == [200] + [400] * 9
    assert stored_passkeys(app)[0].sign_count == 5


def test_an_unverified_account_is_refused_when_verification_is_required(make_app):
    strict = make_app(REQUIRE_VERIFIED_EMAIL=True)
    client = strict.test_client()
    register(client)
    with strict.app_context():
        db.session.execute(text("UPDATE users SET verified = true"))
        db.session.commit()
        db.session.remove()
    login(client)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    with strict.app_context():
        db.session.execute(text("UPDATE users SET verified = false"))
        db.session.commit()
        db.session.remove()
    response = passkey_login(strict.test_client(), authenticator)
    assert_fail(response, 403, "Please verify your email address: check your inbox")
    assert_no_session_started(response)


def test_an_account_holds_at_most_twenty_passkeys(app):
    client, _ = signed_in(app)
    for number in range(service.MAX_PASSKEYS):
        add_passkey(client, SoftAuthenticator(), name=f"Key {number}")
    response = client.post(f"{PASSKEYS}/register/options")
    assert_fail(response, 409, service.TOO_MANY)
    assert response.json["code"] == "too_many_passkeys"
    assert len(client.get(PASSKEYS).json["data"]["passkeys"]) == service.MAX_PASSKEYS


OWNERS_PASSWORD = "owner's own password"


@pytest.mark.parametrize("via", ["verify", "reset"])
def test_a_passkey_added_before_the_address_was_proven_goes_with_the_first_proof(
    mail_app, smtp_sink, via
):
    """Pre-account hijacking: someone registers the victim's address (sign-in does not
    need a verified address by default) and adds a passkey; the victim proves the
    address (the registration's verification link, or a reset after the 409) and uses
    the account. The squatter's passkey must not sign in to it afterwards."""
    squatter, _ = signed_in(mail_app, email="vic@example.com")
    authenticator = SoftAuthenticator()
    add_passkey(squatter, authenticator)
    delivered(mail_app, smtp_sink)

    owner = mail_app.test_client()
    if via == "verify":
        verify_by_mail(owner, mail_app, smtp_sink, "vic@example.com")
    else:
        reset_by_mail(owner, mail_app, smtp_sink, "vic@example.com", OWNERS_PASSWORD)

    assert stored_passkeys(mail_app) == []
    assert squatter.get("/api/users/me").status_code == 401
    response = passkey_login(mail_app.test_client(), authenticator)
    assert response.status_code == 400, response.json
    assert_no_session_started(response)


def test_a_passkey_added_after_the_address_was_proven_stays_at_a_reset(mail_app, smtp_sink):
    client, _ = signed_in(mail_app, email="wyn@example.com")
    verify_by_mail(client, mail_app, smtp_sink, "wyn@example.com")
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    reset_by_mail(client, mail_app, smtp_sink, "wyn@example.com", OWNERS_PASSWORD)
    assert len(stored_passkeys(mail_app)) == 1
    assert passkey_login(mail_app.test_client(), authenticator).status_code == 200


# --- an account without a password ------------------------------------------------


def passwordless_account_with_a_passkey(app, sink, email: str):
    """An account made by an emailed code (no password), signed in by Bearer token, with
    one passkey: (the bearer headers, the authenticator)."""
    signed_in = sign_in_by_code(app.test_client(), app, sink, email, **TOKEN_MODE)
    assert signed_in.status_code == 200, signed_in.json
    headers = bearer(signed_in.json["access_token"])
    authenticator = SoftAuthenticator()
    add_passkey(app.test_client(), authenticator, headers=headers)
    return headers, authenticator


def confirmation(client, authenticator, headers) -> dict:
    """A passkey's answer to the confirmation options: the body that removes a passkey."""
    options = client.post(f"{PASSKEYS}/reauth/options", headers=headers)
    assert options.status_code == 200, options.json
    return {"credential": authenticator.get(options.json["data"]["options"])}


def test_an_account_without_a_password_confirms_a_removal_with_its_passkey(make_app, smtp_sink):
    """Made by an emailed code, the account has no password and no TOTP to confirm
    with: before, every removal was a 400 until a reset set a password. The emailed
    code still signs in, so the passkey is not the last way in."""
    app = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    headers, authenticator = passwordless_account_with_a_passkey(app, smtp_sink, "pia@example.com")
    client = app.test_client()
    [passkey] = client.get(PASSKEYS, headers=headers).json["data"]["passkeys"]
    url = f"{PASSKEYS}/{passkey['id']}"
    assert_fail(client.delete(url, json={"password": "none set"}, headers=headers), 400)

    options = client.post(f"{PASSKEYS}/reauth/options", headers=headers).json["data"]["options"]
    assert [item["id"] for item in options["allowCredentials"]] == [
        b64url(credential_id) for credential_id in authenticator.credentials
    ]
    assert options["userVerification"] == "required"
    removed = client.delete(url, json=confirmation(client, authenticator, headers), headers=headers)
    assert removed.status_code == 200, removed.json
    assert stored_passkeys(app) == []
    [used] = events_named(app, "passkey_used")
    assert used["details"] == {"passkey_id": passkey["id"], "via": "reauth"}
    assert sign_in_by_code(app.test_client(), app, smtp_sink, "pia@example.com").status_code == 200


def test_a_confirmation_answer_is_single_use_and_not_a_sign_in(make_app, smtp_sink):
    app = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    headers, authenticator = passwordless_account_with_a_passkey(app, smtp_sink, "kit@example.com")
    client = app.test_client()
    add_passkey(client, SoftAuthenticator(), headers=headers)
    first, second = [
        key["id"] for key in client.get(PASSKEYS, headers=headers).json["data"]["passkeys"]
    ]
    body = confirmation(client, authenticator, headers)
    # Its challenge was made for a confirmation: no sign-in takes it.
    response = client.post(f"{PASSKEYS}/login", json=body)
    assert_fail(response, 400, service.CHALLENGE_FAILED)
    assert_no_session_started(response)
    assert client.delete(f"{PASSKEYS}/{second}", json=body, headers=headers).status_code == 200
    # Once used, it confirms nothing more.
    assert_fail(
        client.delete(f"{PASSKEYS}/{first}", json=body, headers=headers),
        400,
        service.CHALLENGE_FAILED,
    )
    assert len(stored_passkeys(app)) == 1


def test_the_last_way_into_an_account_cannot_be_removed(make_app, smtp_sink):
    """Without a password, a provider or mail (no code can reach the owner), the only
    passkey is the only way in: a 409 that says what to do, before any confirmation."""
    with_mail = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    headers, authenticator = passwordless_account_with_a_passkey(
        with_mail, smtp_sink, "lee@example.com"
    )
    app = make_app()  # the same accounts, on a server that sends no mail
    client = app.test_client()
    [passkey] = client.get(PASSKEYS, headers=headers).json["data"]["passkeys"]
    url = f"{PASSKEYS}/{passkey['id']}"
    refused = client.delete(url, json=confirmation(client, authenticator, headers), headers=headers)
    assert_fail(refused, 409, service.LAST_WAY_IN)
    assert refused.json["code"] == "last_way_in"
    assert len(stored_passkeys(app)) == 1

    add_passkey(client, SoftAuthenticator(), headers=headers)  # a second way in
    removed = client.delete(url, json=confirmation(client, authenticator, headers), headers=headers)
    assert removed.status_code == 200, removed.json
    [left] = client.get(PASSKEYS, headers=headers).json["data"]["passkeys"]
    assert_fail(
        client.delete(f"{PASSKEYS}/{left['id']}", json={"password": "x"}, headers=headers), 409
    )


def test_an_account_deleted_behind_the_apis_back_ends_its_passkey_calls_as_a_session(app):
    """The session check answers from Redis's copy of the user; the passkey routes read
    the row, which is gone: 401 session_ended, as the session check itself says."""
    client = app.test_client()
    register(client)
    token = login(client)
    with app.app_context():
        db.session.execute(text("DELETE FROM users"))
        db.session.commit()
        db.session.remove()
    response = client.post("/api/auth/passkeys/register/options", headers=bearer(token))
    assert_fail(response, 401, "Invalid token or session has expired")
    assert response.get_json()["code"] == "session_ended"
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="authapi"')
