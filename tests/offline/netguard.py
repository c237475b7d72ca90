"""A network guard for the test suite and every Python process it starts: only loopback.

`install()` makes `socket.socket.connect`/`connect_ex` refuse any address outside 127.0.0.0/8
and ::1 (Unix sockets pass), and `socket.getaddrinfo` refuse to resolve any name but localhost,
raising `NetworkBlocked` (a ``ConnectionRefusedError``, so code that handles a dead network sees
one). Each refusal is also appended to the file named by ``FINLAKE_NETGUARD_LOG``, so a test can
assert that nothing even tried, whatever the code under test did with the error.

Hand-written (30 lines) rather than pytest-socket: the guard must also load in subprocesses,
which it does as ``sitecustomize`` (this folder on ``PYTHONPATH``). Spark's JVM is not Python
and is not covered; the Glue scripts only read and write the workspace.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
_installed = False


class NetworkBlocked(ConnectionRefusedError):
    """A connection or name lookup outside loopback, refused by the test network guard."""


def _is_loopback(host: Any) -> bool:
    if host is None or host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str) -> None:
    log = os.environ.get("FINLAKE_NETGUARD_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {what}\n")
    raise NetworkBlocked(f"network blocked by the test guard: {what}")


def install() -> None:
    """Patch the socket module of this process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            _refuse(f"connect to {address[0]}:{address[1]}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            _refuse(f"resolve {host}")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
