"""Fetching a page, feed or PDF by URL without letting the URL reach into our own network:
every connection, redirects included, is checked on the address it actually goes to."""

import ipaddress
import socket
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

from rag.errors import FetchFailed, UrlRefused
from rag.settings import IngestSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECTS = {301, 302, 303, 307, 308}
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # the well-known prefix: IPv4 in the last 32 bits
ALLOW_HINT = "set RAG_INGEST__ALLOW_PRIVATE to allow it"
TOTAL_S = 120.0  # a whole fetch, redirects included, however steadily its bytes come


@dataclass(frozen=True)
class Fetched:
    """What a fetch brought back: the final URL, the declared type and the body."""

    url: str  # after redirects
    media_type: str  # lower case, without parameters
    charset: str | None  # from the Content-Type header
    body: bytes
    last_modified: str | None  # the Last-Modified header


class _AddressRefused(Exception):
    """A connection would reach an address a fetch may not; the message says which and why."""


def _destination(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), else the address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip.sixtofour:
            return ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return ip


def _kind(ip: IPAddress) -> str | None:
    """What makes an address one a fetch may not reach, or None for a public one."""
    kinds = (
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("an unspecified", ip.is_unspecified),
        ("a reserved", ip.is_reserved),
        ("a private", ip.is_private),
        ("not a public", not ip.is_global),
    )
    return next((kind for kind, hit in kinds if hit), None)


def _refusal(ip: IPAddress, allowed: Iterable[Network]) -> str | None:
    """Why a fetch may not connect to this address, or None when it may."""
    target = _destination(ip)
    if any(target in network for network in allowed):
        return None
    kind = _kind(target)
    if kind is None:
        return None
    through = "" if target == ip else f" (as {ip})"
    return f"{target}{through} is {kind} address ({ALLOW_HINT})"


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the host name resolves to, in the resolver's order, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host} could not be resolved: {exc}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.SyncBackend):
    """httpcore's sockets, opened only to addresses a fetch may reach: the host is resolved
    here and connected to by number, so the address checked is the address connected to
    (no second lookup for DNS rebinding to answer differently)."""

    def __init__(self, allowed: list[Network]) -> None:
        self._allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the host's first reachable address; refuse the host outright if any of
        its addresses is forbidden, so which one the resolver lists first cannot matter."""
        addresses = _resolve(host, port)
        for ip in addresses:
            if reason := _refusal(ip, self._allowed):
                raise _AddressRefused(reason)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for ip in addresses:
            try:
                stream = super().connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            self._check_peer(stream)
            return stream
        raise failure

    def _check_peer(self, stream: httpcore.NetworkStream) -> None:
        """Close and refuse a stream whose far end is not an address a fetch may reach."""
        peer = ipaddress.ip_address(stream.get_extra_info("socket").getpeername()[0])
        if reason := _refusal(peer, self._allowed):
            stream.close()
            raise _AddressRefused(reason)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose sockets the guarded backend opens.
    TLS still checks the certificate against the URL's host name: httpcore starts TLS with
    the origin's host, not the address connected to."""

    def __init__(self, allowed: list[Network]) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        # HTTPTransport takes no network backend, so its pool is replaced by one with ours;
        # if httpx ever stops keeping it there, refuse to run rather than run unguarded.
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("httpx.HTTPTransport no longer keeps its pool in _pool")
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=_GuardedBackend(allowed)
        )


def _one_line(text: object) -> str:
    """The text with every run of white space, line breaks included, made one space."""
    return " ".join(str(text).split())


def _shown(url: str) -> str:
    """The URL fit for a message: without a user name or password, on one line."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url.encode("unicode_escape").decode("ascii")
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


def _url_problem(url: str) -> str | None:
    """Why the URL's shape is not one we fetch, or None when it is."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL ({_one_line(exc)})"
    if parsed.scheme not in ("http", "https"):
        return "not an http or https URL"
    if not parsed.host:
        return "the URL has no host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"port {parsed.port} is out of range"
    if parsed.userinfo:
        return "the URL carries a user name or password"
    return None


def check_url(url: str) -> str:
    """Refuse a URL that is not http(s) with a host, or that carries credentials; return it."""
    if reason := _url_problem(url):
        raise UrlRefused(f"{_shown(url)}: refused: {reason}", path=_shown(url))
    return url


def check_address(url: str, settings: IngestSettings) -> str:
    """check_url, then the host's addresses checked as a fetch checks them, without
    connecting: a refusal said before any work it would waste (fetch checks again, on the
    address it connects to). A name that does not resolve is left for the fetch to report."""
    check_url(url)
    parsed = httpx.URL(url)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(parsed.host)]
    except ValueError:  # a name, not an address
        try:
            addresses = _resolve(parsed.host, parsed.port or 443)
        except httpcore.ConnectError:
            return url
    for ip in addresses:
        if reason := _refusal(ip, settings.private_allowed):
            raise UrlRefused(f"{_shown(url)}: refused: {reason}", path=_shown(url))
    return url


def _check_hop(target: str, where: str, path: str, allowed: list[Network]) -> None:
    """Refuse a URL of the wrong shape, or one whose host is a forbidden address, before
    connecting; host names are checked once resolved, by the guarded backend."""
    reason = _url_problem(target)
    if reason is None:
        try:
            reason = _refusal(ipaddress.ip_address(httpx.URL(target).host), allowed)
        except ValueError:  # a name, not an address
            pass
    if reason:
        raise UrlRefused(f"{where}: refused: {reason}", path=path)


@contextmanager
def _plain_errors(where: str, path: str, timeout_s: float) -> Iterator[None]:
    """Turn a refused address or an httpx error into UrlRefused or FetchFailed, in one line."""
    try:
        yield
    except _AddressRefused as exc:
        raise UrlRefused(f"{where}: refused: {exc}", path=path) from None
    except httpx.TimeoutException:
        raise FetchFailed(f"{where}: no answer within {timeout_s:g} s", path=path) from None
    except httpx.ConnectError as exc:
        raise FetchFailed(f"{where}: could not connect ({_one_line(exc)})", path=path) from None
    except httpx.HTTPError as exc:
        message = f"{where}: the connection failed ({_one_line(exc) or type(exc).__name__})"
        raise FetchFailed(message, path=path) from None


def _content_type(header: str) -> tuple[str, str | None]:
    """The media type and charset a Content-Type header declares, both lower case."""
    media_type, *params = header.split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    return media_type.strip().lower(), charset


def _read_capped(
    response: httpx.Response, where: str, path: str, max_bytes: int, deadline: float
) -> bytes:
    """The body as it arrives, refused as soon as it is declared or grows over max_bytes,
    or is still arriving at the deadline (a server can drip bytes under every read timeout)."""
    too_large = f"{where}: the body is over the {max_bytes:,}-byte limit"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchFailed(f"{too_large} ({int(declared):,} bytes)", path=path)
    body = bytearray()
    for piece in response.iter_raw():  # raw: asked for no compression, so nothing inflates
        body += piece
        if len(body) > max_bytes:
            raise FetchFailed(too_large, path=path)
        if time.monotonic() > deadline:
            raise FetchFailed(f"{where}: the whole answer took over {TOTAL_S:g} s", path=path)
    return bytes(body)


def _read(
    response: httpx.Response,
    where: str,
    path: str,
    max_bytes: int,
    accept: Collection[str],
    deadline: float,
) -> Fetched:
    """The final answer as Fetched, refused for an error status, a type not in accept, a
    compressed body or one over max_bytes."""
    if not response.is_success:
        status = f"{response.status_code} {response.reason_phrase}".strip()
        raise FetchFailed(f"{where}: the server answered {status}", path=path)
    media_type, charset = _content_type(response.headers.get("content-type", ""))
    if media_type not in accept:
        served = f"served as {media_type}" if media_type else "served without a type"
        raise FetchFailed(f"{where}: {served}, not one of: {', '.join(sorted(accept))}", path=path)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise FetchFailed(
            f"{where}: served compressed ({encoding}) though asked not to be", path=path
        )
    return Fetched(
        url=str(response.url),
        media_type=media_type,
        charset=charset,
        body=_read_capped(response, where, path, max_bytes, deadline),
        last_modified=response.headers.get("last-modified"),
    )


def _joined(base: httpx.URL, location: str) -> str:
    """A redirect's Location resolved against the URL that sent it (as given, if unjoinable:
    the next hop's check then refuses it)."""
    try:
        return str(base.join(location))
    except httpx.InvalidURL:
        return location


def fetch(url: str, settings: IngestSettings, *, accept: Collection[str]) -> Fetched:
    """GET the URL, following up to max_redirects redirects, each hop checked like the URL;
    refuse forbidden addresses (UrlRefused), and errors, types not in accept and bodies over
    max_bytes (FetchFailed), each with a one-line message that starts with the URL."""
    path = _shown(url)
    allowed = settings.private_allowed
    client = httpx.Client(
        transport=_GuardedTransport(allowed),
        timeout=httpx.Timeout(settings.timeout_s),
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "identity"},
        follow_redirects=False,
        trust_env=False,  # a proxy from the environment would connect for us, unchecked
    )
    target, deadline = url, time.monotonic() + TOTAL_S
    with client:
        for hop in range(settings.max_redirects + 1):
            where = path if hop == 0 else f"{path} (redirected to {_shown(target)})"
            _check_hop(target, where, path, allowed)
            with (
                _plain_errors(where, path, settings.timeout_s),
                client.stream("GET", target) as response,
            ):
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location is not None:
                    target = _joined(response.url, location)
                    continue
                return _read(response, where, path, settings.max_bytes, accept, deadline)
    raise FetchFailed(f"{path}: more than {settings.max_redirects} redirects", path=path)
