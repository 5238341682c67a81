"""POSTing to URLs that admins or operators name, safely (server-side request forgery).

- Only http(s); https only when ``https_only`` (production). No credentials in URLs.
- The host is resolved here, every address is checked, and the connection goes to a
  checked address: a name that resolves to a public address when an endpoint is
  registered and to 127.0.0.1 later (DNS rebinding) is still refused, at connect time.
  Loopback, private, link-local (cloud metadata, 169.254.169.254), shared, reserved
  and multicast addresses are refused unless ``allow_private``.
- A short connect timeout, and one deadline for the whole answer (``read_timeout``
  from the request sent: a receiver trickling a byte now and then cannot hold the
  caller longer); no redirects (http.client never follows them, and a 3xx counts as
  a failure), and at most ``max_response_bytes`` of the answer read.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

# IPv6 ranges whose low 32 bits are an IPv4 address that a translator or tunnel
# reaches: NAT64 (well-known and local-use prefixes) and the deprecated
# IPv4-compatible form (``::127.0.0.1``). 6to4 (2002::/16) carries it in bits 16-48.
EMBEDDING_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
)


@dataclass(frozen=True)
class Policy:
    allow_private: bool
    https_only: bool
    connect_timeout: float
    read_timeout: float
    max_response_bytes: int


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class TargetRefused(Exception):
    """The URL may not be called; the message is safe to show to an admin."""


class TransportError(Exception):
    """The request did not get an answer; the message is a short, safe reason."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64, 6to4, IPv4-compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_blocked(address: IPAddress) -> bool:
    """Anything but a public unicast address (IPv4 inside IPv6 judged as IPv4).

    ``is_global`` alone is not enough on Python 3.11: it calls the reserved ``::/8``
    (where ``::127.0.0.1`` lives), the site-local ``fec0::/10`` and the local-use NAT64
    prefix global.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            address = inner
        elif address.is_site_local:
            return True
    return not address.is_global or address.is_multicast or address.is_reserved


def check_url(url: str, *, https_only: bool) -> SplitResult:
    """The URL's parts, or TargetRefused saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("The URL is malformed") from None
    allowed = ("https",) if https_only else ("http", "https")
    if parts.scheme not in allowed:
        raise TargetRefused(
            "The URL must start with https://" if https_only else "The URL must be http(s)"
        )
    if not parts.hostname:
        raise TargetRefused("The URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL may not carry a user name or password")
    if port == 0:
        raise TargetRefused("The URL's port is invalid")
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; TargetRefused if any is off limits or none exists."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused("The URL's host does not resolve") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]
        if not allow_private and is_blocked(ipaddress.ip_address(text)):
            raise TargetRefused(
                "The URL's host is a loopback, private, link-local or otherwise non-public address"
            )
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise TargetRefused("The URL's host does not resolve")
    return addresses


def _connect(addresses: list[str], port: int, timeout: float) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            connection = socket.create_connection((address, port), timeout=timeout)
        except OSError as failure:
            error = failure
            continue
        # As http.client does: headers and body go out in separate writes, and Nagle's
        # algorithm would hold the body for the peer's delayed ACK (40 ms on Linux).
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection
    assert error is not None
    raise error


class _ReadsBefore(io.RawIOBase):
    """A socket's reads, each allowed only what is left until ``deadline``
    (time.monotonic()); TimeoutError once it has passed."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock, self._deadline = sock, deadline
        # A file of the socket, as http.client's own: it keeps the socket open after
        # the connection lets go of it (an answer that ends with the connection).
        self._file = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(left)
        return self._file.readinto(buffer)

    def close(self) -> None:
        self._file.close()
        super().close()


class AnswerDeadline:
    """What http.client's response needs of its socket (``makefile``), its reads under
    one deadline. A timeout per read alone lets a receiver that sends a byte every few
    seconds hold a worker thread (and its row lock) or a sign-up for hours."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_ReadsBefore(self._sock, self._deadline))


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, within: float, **kwargs: Any) -> None:
        deadline = AnswerDeadline(sock, time.monotonic() + within)
        super().__init__(deadline, *args, **kwargs)  # type: ignore[arg-type]  # makefile only


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to addresses already checked, never to what the name resolves to later."""

    def __init__(self, host: str, port: int, addresses: list[str], policy: Policy) -> None:
        super().__init__(host, port, timeout=policy.read_timeout)
        self._addresses = addresses
        self._connect_timeout = policy.connect_timeout
        self.response_class = functools.partial(_Response, within=policy.read_timeout)  # type: ignore[assignment]

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self._connect_timeout)
        self.sock.settimeout(self.timeout)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One per process: loading the system's trusted certificates costs milliseconds
    (docs/performance.md#hooks); the context is safe to share between threads."""
    return ssl.create_default_context()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: list[str], policy: Policy) -> None:
        super().__init__(host, port, timeout=policy.read_timeout)
        self._addresses = addresses
        self._connect_timeout = policy.connect_timeout
        self._tls = _tls_context()
        self.response_class = functools.partial(_Response, within=policy.read_timeout)  # type: ignore[assignment]

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self._connect_timeout)
        raw.settimeout(self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def request_target(parts: SplitResult) -> str:
    """The path and query as sent. http.client writes the request line in ASCII and
    raises (UnicodeEncodeError, not an HTTP error) on anything else, so characters a
    request line may not carry (non-ASCII, quotes, braces...) are percent-encoded, as
    browsers do; escapes already there are kept."""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return quote(target, safe="!$%&'()*+,/:;=?@[]~")


def post(url: str, body: bytes, headers: Mapping[str, str], policy: Policy) -> Reply:
    """POST ``body``; the status and at most ``max_response_bytes`` of the answer.

    Raises TargetRefused (a URL or address that is off limits) or TransportError (no
    answer: refused, reset, timed out, TLS failure).
    """
    parts = check_url(url, https_only=policy.https_only)
    port = _port(parts)
    addresses = resolve(parts.hostname or "", port, allow_private=policy.allow_private)
    kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = kind(parts.hostname or "", port, addresses, policy)
    target = request_target(parts)
    try:
        connection.request("POST", target, body=body, headers=dict(headers))
        response = connection.getresponse()
        data = response.read(policy.max_response_bytes)
        return Reply(response.status, data)
    except TimeoutError:
        raise TransportError("timed out") from None
    except ssl.SSLError:
        raise TransportError("TLS handshake failed") from None
    except ConnectionRefusedError:
        raise TransportError("connection refused") from None
    except (OSError, http.client.HTTPException) as error:
        raise TransportError(f"connection failed ({type(error).__name__})") from None
    finally:
        connection.close()
