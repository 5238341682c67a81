"""Token issue with and without the custom-access-token hook (docs/performance.md#hooks).

    .venv/bin/python bench/hooks.py        (or: make bench-hooks)

Serves the app with gunicorn in production mode (as ``make bench``: gunicorn.conf.py's
workers and threads, a throwaway database, Redis db 14), and an HTTPS hook receiver
on loopback with a throwaway certificate authority (the server trusts it through
SSL_CERT_FILE), which verifies every call with the Standard Webhooks package and
answers two claims. Each run refreshes tokens in token mode (every refresh issues an
access token, without bcrypt): first one client after another (latency), then
BENCH_HOOK_CLIENTS clients at once (throughput); once without the hook, once with it.

Environment: BENCH_HOOK_REQUESTS (per client, default 300), BENCH_HOOK_CLIENTS
(default 4), BENCH_DATABASE_NAME / BENCH_REDIS_URL (default authapi_bench, db 14).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import harness
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(harness.ROOT))
from standardwebhooks.webhooks import Webhook

from authapi.webhooks import signing, transport

REQUESTS = int(os.environ.get("BENCH_HOOK_REQUESTS", "300"))
CLIENTS = int(os.environ.get("BENCH_HOOK_CLIENTS", "4"))
CLAIMS = {"tenant": "acme", "roles": ["editor"]}


def certificate_authority(directory: Path) -> tuple[Path, Path]:
    """A throwaway CA-signed certificate for 127.0.0.1: (certificate chain, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "authapi bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, chain_path, key_path = (
        directory / name for name in ("ca.pem", "chain.pem", "key.pem")
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, chain_path, key_path


class Receiver:
    """The hook: verifies each call, answers the claims; counts calls and bad signatures."""

    def __init__(self, secret: str, chain: Path, key: Path) -> None:
        self.calls = 0
        self.bad = 0
        self.lock = threading.Lock()
        verifier = Webhook(secret)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as real servers do

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    verifier.verify(body, dict(self.headers.items()))
                    ok = True
                except Exception:
                    ok = False
                with receiver.lock:
                    receiver.calls += 1
                    receiver.bad += not ok
                answer = json.dumps({"claims": CLAIMS}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((harness.LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        # The handshake in each request's thread, not in the one that accepts.
        self.server.socket = context.wrap_socket(
            self.server.socket, server_side=True, do_handshake_on_connect=False
        )
        self.url = f"https://127.0.0.1:{self.server.server_port}/claims"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def token_login(port: int, email: str) -> str:
    body = {"email": email, "password": harness.PASSWORD}
    status, _, payload = harness.request(
        port, "POST", "/api/auth/login", body, headers={"X-Auth-Mode": "token"}
    )
    if status != 200:
        raise RuntimeError(f"login: HTTP {status} {payload[:200]!r}")
    return json.loads(payload)["refresh_token"]


def refresh_chain(port: int, refresh_token: str, count: int, expect_claims: bool) -> list[float]:
    """``count`` refreshes one after another; the seconds each took."""
    took = []
    for _ in range(count):
        started = time.perf_counter()
        status, _, payload = harness.request(
            port, "POST", "/api/auth/refresh", {"refresh_token": refresh_token}
        )
        took.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"refresh: HTTP {status} {payload[:200]!r}")
        body = json.loads(payload)
        refresh_token = body["refresh_token"]
        claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
        if ("app" in claims) != expect_claims:
            raise RuntimeError(f"claims: expected hook claims {expect_claims}, got {claims}")
    return took


def summary(took: list[float]) -> dict[str, float]:
    ordered = sorted(took)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1] * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def measure(env: dict[str, str], tag: str, expect_claims: bool) -> dict[str, Any]:
    port = harness.free_port()
    env = {**env, "PORT": str(port)}
    settings = harness.gunicorn_settings(env)
    server = harness.Server("wsgi:app", port, env, Path(tempfile.gettempdir()) / "bench-hooks.log")
    with harness.running(server, settings["workers"], "/api/health/ready"):
        accounts = harness.register_accounts(port, CLIENTS, tag)
        tokens = [token_login(port, account.email) for account in accounts]
        refresh_chain(port, tokens[0], 30, expect_claims)  # warm-up (its own chain)
        tokens[0] = token_login(port, accounts[0].email)
        sequential = refresh_chain(port, tokens[0], REQUESTS, expect_claims)
        tokens = [token_login(port, account.email) for account in accounts]
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            chains = list(
                pool.map(lambda token: refresh_chain(port, token, REQUESTS, expect_claims), tokens)
            )
        elapsed = time.perf_counter() - started
    concurrent = [seconds for chain in chains for seconds in chain]
    return {
        "sequential": summary(sequential),
        "concurrent": {
            **summary(concurrent),
            "clients": CLIENTS,
            "requests_per_second": round(len(concurrent) / elapsed, 1),
        },
        "workers": settings["workers"],
        "threads": settings["threads"],
    }


def direct_calls(url: str, secret: str, ca: Path, count: int) -> dict[str, float]:
    """The hook call alone, from this process: sign, connect, TLS, POST, read."""
    os.environ["SSL_CERT_FILE"] = str(ca)
    policy = transport.Policy(
        allow_private=True,
        https_only=True,
        connect_timeout=2.0,
        read_timeout=2.0,
        max_response_bytes=16 * 1024,
    )
    took = []
    for number in range(count):
        started = time.perf_counter()
        body = json.dumps({"type": "hook.custom_access_token", "data": {"n": number}})
        headers = signing.headers([secret], f"hook_{number}", int(time.time()), body)
        reply = transport.post(url, body.encode(), headers, policy)
        took.append(time.perf_counter() - started)
        if reply.status != 200:
            raise RuntimeError(f"hook: HTTP {reply.status}")
    return summary(took)


def main() -> None:
    secret = signing.new_secret()
    with tempfile.TemporaryDirectory() as directory:
        ca, chain, key = certificate_authority(Path(directory))
        receiver = Receiver(secret, chain, key)
        base = harness.server_environment(0, harness.generate_token_keys())
        harness.drop_database()
        harness.flush_redis()
        try:
            harness.create_database(base)
            without = measure(base, "off", expect_claims=False)
            hooked = {
                **base,
                "HOOK_CUSTOM_ACCESS_TOKEN_URL": receiver.url,
                "HOOK_SECRET": secret,
                "SSL_CERT_FILE": str(ca),
            }
            direct = direct_calls(receiver.url, secret, ca, REQUESTS)
            calls_before = receiver.calls
            with_hook = measure(hooked, "on", expect_claims=True)
            calls = receiver.calls - calls_before
        finally:
            receiver.stop()
            harness.drop_database()
            harness.flush_redis()
    result = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "requests_per_client": REQUESTS,
        "without_hook": without,
        "with_hook": with_hook,
        "hook_call_alone": direct,
        "hook_calls": calls,
        "bad_signatures": receiver.bad,
    }
    print(json.dumps(result, indent=2))
    if receiver.bad:
        raise SystemExit("the receiver refused some signatures")


if __name__ == "__main__":
    main()
