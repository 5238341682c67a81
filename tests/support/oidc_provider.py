"""A real OpenID Connect provider for the tests: panva's oidc-provider (npm), run by Node.

``tests/node/oidc-provider/`` holds the pinned package (``bash .ci/install-node-deps.sh``
installs it) and ``server.mjs``, a small configuration: the provider's own login and
consent pages (devInteractions), PKCE required, dynamic client registration (each
test registers a client with its own callback URL), and test accounts whose claims
a test sets. Its signing key is generated here and handed to the provider, which
publishes it in its JWKS: so a test can also make the provider's next ID token
carry other claims (another audience, issuer, nonce, an expiry in the past), signed
with that same published key, or with a key that is not published.

:class:`BrowserlessLogin` is a real HTTP client (requests) that follows the provider's
redirects and submits its login and consent forms like a person would.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from joserfc.jwk import RSAKey

from tests.support.servers import free_port, log_tail, start_process, stop_process, wait_for_http

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "node" / "oidc-provider"


def rsa_jwk(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})
    return key.as_dict(private=True)


class OidcProvider:
    """Start/stop one oidc-provider process on a spare loopback port."""

    def __init__(self) -> None:
        if shutil.which("node") is None or not (PROVIDER_DIR / "node_modules").is_dir():
            raise RuntimeError(
                "oidc-provider is not installed: run `bash .ci/install-node-deps.sh` "
                "(needs Node.js and npm)"
            )
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.signing_key = rsa_jwk("test-signing-key")
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "jwks": {"keys": [self.signing_key]},
            "cookieKeys": [secrets.token_urlsafe(32)],
            "clients": [],
        }
        self._dir = Path(tempfile.mkdtemp(prefix="authapi-oidc-"))
        self._config_path = self._dir / "config.json"
        self._config_path.write_text(json.dumps(config))
        self._log = self._dir / "node.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> OidcProvider:
        self._process = start_process(
            ["node", str(PROVIDER_DIR / "server.mjs"), str(self._config_path)], self._log
        )
        try:
            wait_for_http(
                f"{self.issuer}/.well-known/openid-configuration",
                self._process,
                "oidc-provider",
                lambda: log_tail(self._log),
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
        self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def _control(self, path: str, payload: dict[str, Any]) -> None:
        response = requests.post(f"{self.issuer}/__test__/{path}", json=payload, timeout=30)
        assert response.status_code == 200, response.text

    def reset(self) -> None:
        self._control("reset", {})

    def set_account(self, login: str, **claims: Any) -> None:
        """The claims the provider gives for ``login`` (a test account)."""
        self._control("accounts", {"id": login, "claims": claims})

    def patch_next_id_token(self, key: dict[str, Any] | None = None, **claims: Any) -> None:
        """The next token response's ID token: these claims changed, signed again with
        the provider's published key (or ``key``)."""
        self._control("id-token-patch", {"claims": claims, "key": key})

    def register_client(self, redirect_uri: str) -> tuple[str, str]:
        """Dynamic client registration (RFC 7591): (client_id, client_secret)."""
        response = requests.post(
            f"{self.issuer}/reg",
            json={
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
            timeout=30,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["client_id"], body["client_secret"]


class _Forms(HTMLParser):
    """The forms of an HTML page: action, method and their inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attributes.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and attributes.get("name"):
            self.forms[-1]["fields"][attributes["name"]] = attributes.get("value") or ""


class BrowserlessLogin:
    """Follow the provider's pages with a real HTTP client until it redirects back to
    ``callback_prefix``; the callback URL (with code and state) is returned unvisited."""

    def __init__(self, callback_prefix: str) -> None:
        self.http = requests.Session()
        self.callback_prefix = callback_prefix
        self.pages: list[str] = []  # the provider's pages we saw, in order

    def _follow(self, response: requests.Response) -> str | requests.Response:
        while response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(self.callback_prefix):
                return location
            response = self.http.get(location, allow_redirects=False, timeout=30)
        return response

    def run(self, authorization_url: str, login: str, *, consent: bool = True) -> str:
        step: str | requests.Response = self._follow(
            self.http.get(authorization_url, allow_redirects=False, timeout=30)
        )
        while not isinstance(step, str):
            page = step
            assert page.status_code == 200, (page.status_code, page.text[:500])
            parser = _Forms()
            parser.feed(page.text)
            assert parser.forms, page.text[:500]
            form = parser.forms[0]
            fields = dict(form["fields"])
            self.pages.append(fields.get("prompt", "?"))
            if fields.get("prompt") == "login":
                fields.update(login=login, password="any password")
            elif fields.get("prompt") == "consent" and not consent:
                abort = urljoin(page.url, form["action"]).rstrip("/") + "/abort"  # [ Cancel ]
                step = self._follow(self.http.get(abort, allow_redirects=False, timeout=30))
                continue
            step = self._follow(
                self.http.post(
                    urljoin(page.url, form["action"]),
                    data=fields,
                    allow_redirects=False,
                    timeout=30,
                )
            )
        return step


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
