"""An exception said in words, for a check's one line: never its message (it can quote a
URL with its password) and never a bare class name nobody can act on at 2 a.m."""

from __future__ import annotations

import socket
import ssl

# Class names of the database drivers' errors (asyncpg, sqlite), matched by name so this
# module imports neither.
_BY_NAME = {
    "InvalidPasswordError": "the database refused the password",
    "InvalidAuthorizationSpecificationError": "the database refused this user",
    "InvalidCatalogNameError": "the database named in the URL does not exist",
    "ClientConnectorDNSError": "the host name does not resolve (DNS)",
    "ClientConnectorCertificateError": "its TLS certificate is not trusted",
    "ServerDisconnectedError": "the server closed the connection",
}


def explain(exc: BaseException) -> str:
    """What ``exc`` means for the operator, in a few words."""
    for cause in _chain(exc):
        name = type(cause).__name__
        if name in _BY_NAME:
            return _BY_NAME[name]
        if isinstance(cause, socket.gaierror):
            return _BY_NAME["ClientConnectorDNSError"]
        if isinstance(cause, ssl.SSLCertVerificationError):
            return _BY_NAME["ClientConnectorCertificateError"]
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed (is it https on an http port, or the reverse?)"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused: nothing listens at that address and port"
        if isinstance(cause, TimeoutError):
            return "no answer in time (a firewall, or the server is overloaded)"
        if isinstance(cause, PermissionError):
            return "permission denied (run it as the service user)"
        if isinstance(cause, FileNotFoundError):
            return "a file it needs does not exist"
    if any(isinstance(c, OSError) for c in _chain(exc)):
        return "a network error (the address is unreachable)"
    return f"an unexpected error ({type(exc).__name__})"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
