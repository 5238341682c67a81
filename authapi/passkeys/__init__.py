"""Passkeys (WebAuthn): sign in with no password, or as a second factor.

- ``relying_party``: who we are to the browser (RP ID, name, allowed origins).
- ``challenges``: single-use challenges in Redis.
- ``ceremonies``: the WebAuthn checks, done by py_webauthn.
- ``service``: the rules (register, list, rename, remove, sign in, second factor).
- ``routes``: the thin views under ``/api/auth/passkeys`` (its ``blueprint``).
"""
