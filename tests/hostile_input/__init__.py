"""Hostile input, route by route, one file per section: every case gets the contract's
JSON envelope and the right status, never a 5xx, an HTML page or a side effect.

Tables of cases (``pytest.mark.parametrize`` with readable ids) per route:
POST /api/auth/register, POST /api/auth/login, GET/POST /api/auth/refresh,
GET /api/auth/logout and GET /api/users/me. Forged tokens are built with real
cryptography (PyJWT, cryptography, hmac) from the app's configured keys or from
foreign keys generated here.
"""
