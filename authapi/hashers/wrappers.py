"""Flask-Security's double hash: ``flask-security$<inner hash>``.

Unless ``SECURITY_PASSWORD_SINGLE_HASH`` was on, Flask-Security hashes not the
password but ``base64(HMAC-SHA512(SECURITY_PASSWORD_SALT, password))`` with its
passlib scheme (bcrypt, argon2, ``$pbkdf2-sha512$``...). Import such hashes with
this prefix and set FLASK_SECURITY_PASSWORD_SALT; hashes made with single hashing
are imported as they are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from authapi.hashers.argon2_family import ARGON2
from authapi.hashers.base import Format, HashSettings, MalformedHash
from authapi.hashers.bcrypt_family import BCRYPT, MAX_BYTES
from authapi.hashers.pbkdf2_family import PASSLIB_PBKDF2

INNER_FORMATS: tuple[Format, ...] = (BCRYPT, ARGON2, PASSLIB_PBKDF2)


def flask_security_hmac(password: str, salt: str) -> str:
    digest = hmac.new(salt.encode("utf-8"), password.encode("utf-8"), hashlib.sha512).digest()
    return base64.b64encode(digest).decode("ascii")


class FlaskSecurity:
    name = "flask_security"
    prefix = "flask-security$"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(self.prefix)

    def _inner(self, encoded: str, settings: HashSettings) -> tuple[Format, str]:
        inner = encoded[len(self.prefix) :]
        found = next((known for known in INNER_FORMATS if known.matches(inner)), None)
        if found is None:
            raise MalformedHash("flask-security$ must wrap a bcrypt, argon2 or pbkdf2 hash")
        if not settings.flask_security_salt:
            raise MalformedHash("flask-security$ hashes need FLASK_SECURITY_PASSWORD_SALT")
        return found, inner

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        found, inner = self._inner(encoded, settings)
        secret = flask_security_hmac(password, settings.flask_security_salt)
        if found is BCRYPT:
            # The HMAC is 88 characters; passlib gave them all to bcrypt, which hashed
            # the first 72 (our bcrypt check fails anything longer, as it should for a
            # typed password). The 72 still carry 54 bytes of the HMAC.
            secret = secret[:MAX_BYTES]
        return found.verify(secret, inner, settings)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        found, inner = self._inner(encoded, settings)
        found.check_importable(inner, settings)


FLASK_SECURITY = FlaskSecurity()
