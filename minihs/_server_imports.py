"""Importing aiohttp for a server-only process, without loading the system's CA certificates.

aiohttp builds two client TLS contexts when it is imported, and loading the CA store for them
takes about 90 ms, a third of minihs's start-up. The ``minihs`` command never makes an outgoing
connection, so it imports aiohttp with CA loading skipped for just that moment: those two
contexts then trust nothing, and any client use of them would fail verification (fail closed),
never pass it. Library users (``minihs.testing``, ``create_app``) import aiohttp normally.
"""

from __future__ import annotations

import ssl
import sys


def import_aiohttp_for_server() -> None:
    if "aiohttp" in sys.modules:
        return  # already imported the normal way; nothing to save
    load_default_verify_paths = ssl.SSLContext.set_default_verify_paths
    ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
    try:
        import aiohttp.web  # noqa: F401
    finally:
        ssl.SSLContext.set_default_verify_paths = load_default_verify_paths  # type: ignore[method-assign]
