"""Webhooks: admin-managed endpoints (``routes``, ``service``), an outbox written with
each change (``outbox``, and ``relay`` for changes made in Redis), the delivery worker
(``worker``, ``cli``) over a transport that refuses private targets (``transport``),
Standard Webhooks signatures (``signing``). See docs/webhooks.md. The blocking hooks
are in :mod:`authapi.hooks`.
"""
