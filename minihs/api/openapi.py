"""The OpenAPI 3.1 description of minihs, as shipped in the package (``minihs/openapi.json``).

Written by ``scripts/make_openapi.py``; ``tests/test_fuzz.py`` runs schemathesis against it.
"""

from __future__ import annotations

import functools
from importlib import resources

from aiohttp import web

PATH = "/_minihs/openapi.json"


@functools.cache
def document_bytes() -> bytes:
    """The packaged document, read once; served as stored (it is already JSON)."""
    return resources.files("minihs").joinpath("openapi.json").read_bytes()


async def openapi_document(request: web.Request) -> web.Response:
    """GET /_minihs/openapi.json

    Not a Matrix endpoint: the OpenAPI 3.1 document describing every endpoint minihs serves,
    with request and response schemas and the statuses each can answer. No authentication.
    """
    return web.Response(
        body=document_bytes(), content_type="application/json", charset="utf-8"
    )

