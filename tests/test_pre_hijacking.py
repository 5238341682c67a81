"""Pre-account hijacking (Sudhodanan & Paverd, 2022): someone registers the victim's
address before the victim does, sets up ways in, and waits for the victim to use the
account. The first proof of the address (the verification link, a password reset, an
emailed code) hands the account to the address's owner: whatever was set up before it
goes. Passkeys and provider identities have their own tests (test_passkeys.py,
test_oauth.py); here the second factors of the mfa package and the mails and events
that tell about them."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select, text

from authapi.extensions import db
from authapi.mfa.models import RecoveryCode, TotpFactor
from authapi.models import AuthEvent
from tests.helpers import PASSWORD, bearer, register, token_login
from tests.support.mfa import STEP, code_at, enrol_totp, frozen_now, password_login
from tests.support.smtp_sink import delivered, reset_by_mail, sign_in_by_code, verify_by_mail
from tests.support.webhooks import WEBHOOK_SETTINGS, create_webhook, make_admin

VICTIM = "vic@example.com"
OWNERS_PASSWORD = "the owner's own password"


@pytest.fixture
def proof_app(make_app, smtp_sink):
    """Mail to the sink, a frozen clock for TOTP codes, and webhooks to a private address
    (nothing is delivered: the test reads the events the outbox wrote)."""
    app = make_app(
        CLOCK_FROZEN_AT=(int(time.time()) // STEP) * STEP + 5,
        **smtp_sink.config,
        **WEBHOOK_SETTINGS,
    )
    create_webhook(
        app.test_client(), make_admin(app), "http://127.0.0.1:9/hook", events=["mfa.removed"]
    )
    return app


def factors_stored(app) -> tuple[int, int]:
    with app.app_context():
        totp = len(db.session.scalars(select(TotpFactor)).all())
        codes = len(db.session.scalars(select(RecoveryCode)).all())
        db.session.remove()
    return totp, codes


def audited_removals(app) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(AuthEvent).where(AuthEvent.event == "mfa_removed"))
        found = sorted((row.details for row in rows), key=lambda details: details["factor"])
        db.session.remove()
    return found


def removal_webhooks(app) -> list[dict]:
    with app.app_context():
        bodies = db.session.scalars(
            text("SELECT body FROM webhook_events WHERE type = 'mfa.removed'")
        ).all()
        db.session.remove()
    return sorted((json.loads(body)["data"] for body in bodies), key=lambda data: data["factor"])


@pytest.mark.parametrize("via", ["verify", "reset", "otp"])
def test_a_totp_set_up_before_the_address_was_proven_goes_with_the_first_proof(
    proof_app, smtp_sink, via
):
    """The squatter turns TOTP on (and so holds its recovery codes too): left in place,
    it would guard the owner's account against its owner, and let the squatter through
    the second step with a password they know. The first proof removes both."""
    squatter = proof_app.test_client()
    register(squatter, email=VICTIM)
    tokens = token_login(squatter, email=VICTIM)
    secret, _ = enrol_totp(squatter, proof_app, tokens["access_token"])
    assert factors_stored(proof_app) == (1, 10)

    owner = proof_app.test_client()
    if via == "verify":
        verify_by_mail(owner, proof_app, smtp_sink, VICTIM)
        password = PASSWORD  # the link keeps the registrant's password (docs/security.md)
    elif via == "reset":
        reset_by_mail(owner, proof_app, smtp_sink, VICTIM, OWNERS_PASSWORD)
        password = OWNERS_PASSWORD
    else:
        signed_in = sign_in_by_code(owner, proof_app, smtp_sink, VICTIM)
        assert signed_in.status_code == 200, signed_in.json  # not mfa_required
        password = None

    assert factors_stored(proof_app) == (0, 0)
    assert squatter.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    if password is not None:  # the password alone signs in now: no second step
        assert password_login(owner, VICTIM, password).status_code == 200
    assert owner.get("/api/users/me").json["data"]["mfa"] == []
    assert code_at(secret, frozen_now(proof_app))  # the squatter still has the secret...
    assert owner.get("/api/auth/mfa").json["data"]["totp"] is False  # ...worth nothing

    assert audited_removals(proof_app) == [
        {"factor": "recovery_code", "reason": "unverified"},
        {"factor": "totp", "reason": "unverified"},
    ]
    assert [(data["factor"], data["by"]) for data in removal_webhooks(proof_app)] == [
        ("recovery_code", None),
        ("totp", None),
    ]
    [told] = [
        m
        for m in delivered(proof_app, smtp_sink)
        if m.subject == "The second factors of your account were removed"
    ]
    assert told.envelope_to == [VICTIM]
    assert "an authenticator app (TOTP)" in told.text
    assert "recovery codes" in told.text
    assert "Alice" not in told.text  # the squatter's text never reaches the owner


def test_a_totp_set_up_after_the_address_was_proven_stays_at_a_reset(proof_app, smtp_sink):
    client = proof_app.test_client()
    register(client, email=VICTIM)
    verify_by_mail(client, proof_app, smtp_sink, VICTIM)
    tokens = token_login(client, email=VICTIM)
    enrol_totp(client, proof_app, tokens["access_token"])
    reset_by_mail(client, proof_app, smtp_sink, VICTIM, OWNERS_PASSWORD)
    assert factors_stored(proof_app) == (1, 10)
    assert password_login(client, VICTIM, OWNERS_PASSWORD).status_code == 403  # mfa_required
    assert audited_removals(proof_app) == []


# --- the verification link, then an emailed code ------------------------------------


def test_the_verification_mail_and_page_tell_someone_who_did_not_register_what_to_do(
    proof_app, smtp_sink
):
    """The link is the one proof that leaves the account as its registrant set it up,
    password included (docs/security.md#pre-account-hijacking): the owner of an address
    someone else registered must learn not to confirm, and what takes the account."""
    register(proof_app.test_client(), email=VICTIM)
    [mail] = [m for m in delivered(proof_app, smtp_sink) if "/api/auth/verifyemail/" in m.text]
    text = " ".join(mail.text.split())
    assert "Open the link only if you created this account yourself" in text
    assert "do not open the link" in text
    assert "sign in with a code sent by email, or reset the password" in text
    page = proof_app.test_client().get(
        "/api/auth/verifyemail/" + mail.link("/api/auth/verifyemail/")
    )
    said = " ".join(page.get_data(as_text=True).split())
    assert "Confirm only if you created this account yourself" in said
    assert "do not confirm" in said


def test_after_the_verification_link_a_code_leaves_the_registrants_password(proof_app, smtp_sink):
    """The decision pinned: whoever confirmed by the link accepted the account with its
    password; a later code sign-in is an ordinary sign-in, not a first proof."""
    registrant = proof_app.test_client()
    register(registrant, email=VICTIM)
    tokens = token_login(registrant, email=VICTIM)
    verify_by_mail(proof_app.test_client(), proof_app, smtp_sink, VICTIM)
    assert sign_in_by_code(proof_app.test_client(), proof_app, smtp_sink, VICTIM).status_code == 200
    assert (
        registrant.get("/api/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    )
    assert password_login(proof_app.test_client(), VICTIM, PASSWORD).status_code == 200
