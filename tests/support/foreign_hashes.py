"""Password hashes made by the real libraries of the systems users are imported from.

Every string here comes out of that system's own code (bcrypt, passlib/libpass,
argon2-cffi, Werkzeug, Django, firebase-scrypt), never typed by hand. Costs are
lowered where the library allows it, so the tests stay quick. One piece is written
here: Flask-Security's HMAC pre-hash (``get_hmac``: base64 of HMAC-SHA512 keyed with
SECURITY_PASSWORD_SALT), which is three lines of its source; the hash over it is
passlib's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable

import argon2
import bcrypt
import firebase_scrypt
from django.conf import settings as django_settings
from passlib.hash import bcrypt as passlib_bcrypt
from passlib.hash import pbkdf2_sha256 as passlib_pbkdf2_sha256
from passlib.hash import pbkdf2_sha512 as passlib_pbkdf2_sha512
from werkzeug.security import generate_password_hash

if not django_settings.configured:
    django_settings.configure()

from django.contrib.auth.hashers import (
    BCryptSHA256PasswordHasher,
    PBKDF2PasswordHasher,
)

# A Firebase project's password hash parameters (what the console shows), made up
# for the tests: a random 64-byte signer key, the usual one-byte separator.
FIREBASE_SIGNER_KEY = base64.b64encode(os.urandom(64)).decode()
FIREBASE_SALT_SEPARATOR = base64.b64encode(b"\x07").decode()
FIREBASE_CONFIG = {
    "FIREBASE_SCRYPT_SIGNER_KEY": FIREBASE_SIGNER_KEY,
    "FIREBASE_SCRYPT_SALT_SEPARATOR": FIREBASE_SALT_SEPARATOR,
}
FLASK_SECURITY_SALT = "a-flask-security-password-salt"


class _DjangoBcryptSha256(BCryptSHA256PasswordHasher):
    rounds = 4


def django_pbkdf2(password: str) -> str:
    hasher = PBKDF2PasswordHasher()
    return hasher.encode(password, hasher.salt(), iterations=1000)


def django_bcrypt_sha256(password: str) -> str:
    hasher = _DjangoBcryptSha256()
    return hasher.encode(password, hasher.salt())


def firebase(password: str, *, rounds: int = 8, mem_cost: int = 14) -> str:
    """Firebase's scrypt with firebase-scrypt, as ``$firebase-scrypt$`` stores it."""
    salt = os.urandom(16)
    derived = firebase_scrypt.generate_derived_key(
        password, salt, base64.b64decode(FIREBASE_SALT_SEPARATOR), rounds, mem_cost
    )
    hashed = firebase_scrypt.encrypt(base64.b64decode(FIREBASE_SIGNER_KEY), derived)
    b64_salt, b64_hash = base64.b64encode(salt).decode(), base64.b64encode(hashed).decode()
    assert firebase_scrypt.verify_password(  # the library agrees with itself
        password, b64_hash, b64_salt, FIREBASE_SALT_SEPARATOR, FIREBASE_SIGNER_KEY, rounds, mem_cost
    )
    return f"$firebase-scrypt$rounds={rounds},mem_cost={mem_cost}${b64_salt}${b64_hash}"


def _flask_security_hmac(password: str) -> str:
    digest = hmac.new(FLASK_SECURITY_SALT.encode(), password.encode(), hashlib.sha512).digest()
    return base64.b64encode(digest).decode()


def flask_security(password: str) -> str:
    """Flask-Security (SECURITY_PASSWORD_SINGLE_HASH off) over passlib's pbkdf2_sha512."""
    inner = passlib_pbkdf2_sha512.using(rounds=1000).hash(_flask_security_hmac(password))
    return "flask-security$" + inner


def flask_security_bcrypt(password: str) -> str:
    """Flask-Security over bcrypt (long its default scheme): passlib handed the
    88-character HMAC to bcrypt, which used its first 72 bytes. bcrypt before 4.1
    truncated silently; bcrypt 5 (installed here) refuses longer input, so the
    truncation it did is written out here."""
    secret = _flask_security_hmac(password).encode()[:72]
    return "flask-security$" + bcrypt.hashpw(secret, bcrypt.gensalt(4)).decode()


# name -> (function making a hash of a password, the format authapi reports for it)
FOREIGN: dict[str, tuple[Callable[[str], str], str]] = {
    "bcrypt-2a": (
        lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(5, b"2a")).decode(),
        "bcrypt",
    ),
    "bcrypt-2b-cost-5": (
        lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(5)).decode(),
        "bcrypt",
    ),
    "bcrypt-2y": (lambda pw: passlib_bcrypt.using(ident="2y", rounds=4).hash(pw), "bcrypt"),
    "argon2id": (
        lambda pw: argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash(pw),
        "argon2",
    ),
    "argon2i": (
        lambda pw: argon2.PasswordHasher(time_cost=2, memory_cost=8192, type=argon2.Type.I).hash(
            pw
        ),
        "argon2",
    ),
    "werkzeug-pbkdf2": (
        lambda pw: generate_password_hash(pw, "pbkdf2:sha256:1000"),
        "werkzeug_pbkdf2",
    ),
    "werkzeug-scrypt": (
        lambda pw: generate_password_hash(pw, "scrypt:16384:8:1"),
        "werkzeug_scrypt",
    ),
    "django-pbkdf2-sha256": (django_pbkdf2, "django_pbkdf2_sha256"),
    "django-bcrypt-sha256": (django_bcrypt_sha256, "django_bcrypt_sha256"),
    "passlib-pbkdf2-sha512": (
        lambda pw: passlib_pbkdf2_sha512.using(rounds=1000).hash(pw),
        "passlib_pbkdf2",
    ),
    "passlib-pbkdf2-sha256": (
        lambda pw: passlib_pbkdf2_sha256.using(rounds=1000).hash(pw),
        "passlib_pbkdf2",
    ),
    "flask-security-pbkdf2-sha512": (flask_security, "flask_security"),
    "flask-security-bcrypt": (flask_security_bcrypt, "flask_security"),
    "firebase-scrypt": (firebase, "firebase_scrypt"),
}

# Settings the foreign formats need (Firebase's project parameters, Flask-Security's salt).
FOREIGN_CONFIG = {**FIREBASE_CONFIG, "FLASK_SECURITY_PASSWORD_SALT": FLASK_SECURITY_SALT}
