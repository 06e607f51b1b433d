"""Importing aiohttp for a server-only process: the server half, without the HTTP client.

``import aiohttp.web`` first runs ``aiohttp/__init__.py``, which imports aiohttp's whole HTTP
client (connector, cookie jar, tracing, two TLS contexts loading the system's CA store): about
50 ms of a cold start that is otherwise ~250 ms on the benchmark machine, for code a server
never runs. The ``minihs`` command therefore registers the ``aiohttp`` package without running
its ``__init__`` and imports ``aiohttp.web`` from it: the web modules import their siblings
(``from . import hdrs``), never the package's own namespace, except ``http.py``, which reads
``__version__`` and gets the installed one.

Should that ever fail (an aiohttp that reorganised itself), the normal import runs instead, with
the CA store's loading skipped for that moment (the ``minihs`` command makes no outgoing
connection; those contexts then trust nothing: fail closed). Library users (``minihs.testing``,
``create_app``) import aiohttp the normal way and are untouched by this module.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import ssl
import sys

_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def import_aiohttp_for_server() -> None:
    if "aiohttp" in sys.modules:
        return  # already imported (in full or not): nothing left to save
    try:
        _import_server_half()
    except Exception:
        for name in [name for name in sys.modules if name.partition(".")[0] == "aiohttp"]:
            del sys.modules[name]
        _import_whole_without_ca_store()


def _import_server_half() -> None:
    spec = importlib.util.find_spec("aiohttp")
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        raise ImportError("aiohttp is not an ordinary package here")
    with open(spec.origin, encoding="utf-8") as init:
        found = _VERSION.search(init.read())
    if found is None:
        raise ImportError("aiohttp/__init__.py does not state __version__")
    package = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
    package.__version__ = found.group(1)
    sys.modules["aiohttp"] = package
    importlib.import_module("aiohttp.web")
    importlib.import_module("aiohttp.abc")


def _import_whole_without_ca_store() -> None:
    load_default_verify_paths = ssl.SSLContext.set_default_verify_paths
    ssl.SSLContext.set_default_verify_paths = lambda self: None  # type: ignore[method-assign]
    try:
        import aiohttp.web  # noqa: F401
    finally:
        ssl.SSLContext.set_default_verify_paths = load_default_verify_paths  # type: ignore[method-assign]
