"""The ``minihs`` command imports aiohttp's server half only, and falls back to the whole."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

CHECK = """
import json, sys
{prelude}
from minihs._server_imports import import_aiohttp_for_server
import_aiohttp_for_server()
import aiohttp
from aiohttp import web
import minihs.__main__  # everything the command imports works on what was loaded
print(json.dumps({{
    "version": aiohttp.__version__,
    "client_loaded": "aiohttp.client" in sys.modules,
    "has_client_session": hasattr(aiohttp, "ClientSession"),
    "web_application": web.Application.__name__,
}}))
"""


def run_check(prelude: str = "") -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(prelude=prelude)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_server_half_is_imported_without_the_http_client():
    loaded = run_check()
    assert loaded["client_loaded"] is False
    assert loaded["web_application"] == "Application"


def test_the_package_reports_the_installed_aiohttp_version():
    # aiohttp's http.py builds the Server header from the package's __version__.
    assert run_check()["version"] == version("aiohttp")


def test_a_failing_server_half_import_falls_back_to_the_whole_package():
    prelude = (
        "import minihs._server_imports as imports\n"
        "def broken():\n"
        "    import importlib; importlib.import_module('aiohttp.no_such_module')\n"
        "imports._import_server_half = broken"
    )
    loaded = run_check(prelude)
    assert loaded["has_client_session"] is True
    assert loaded["version"] == version("aiohttp")


@pytest.mark.parametrize("already", ["aiohttp", "aiohttp.web"])
def test_an_aiohttp_imported_before_is_left_as_it_is(already):
    loaded = run_check(f"import {already}")
    assert loaded["has_client_session"] is True
