#!/usr/bin/env python3
"""Write ``minihs/openapi.json`` from its source, ``minihs/api/openapi.yaml``.

Usage: ``python scripts/make_openapi.py`` (rewrites the JSON) or ``--check`` (exit 1 when the
JSON differs from what the YAML gives). The YAML is the OpenAPI 3.1 document itself, written
once: shared parts are YAML anchors, and three extensions stand for what repeats (the YAML's
header says how to edit it):

- ``x-shared``: the anchored parts (schemas, parameters, bodies, responses); dropped here.
- ``x-client-paths``: the client endpoints, written once; each is served as
  ``/_matrix/client/v3/...`` and as the legacy ``/_matrix/client/r0/...``, whose operations
  get ``R0`` after their operationId, " (legacy r0 path)" after their summary, and
  ``deprecated: true``.
- ``x-errcodes: [M_..., ...]`` in a response: a standard error answer. The codes are appended
  to its description, its body schema is ``Error`` and its example the first code (unless the
  response gives its own ``example``).

``tests/test_fuzz.py`` checks that the JSON is what this script writes and that it covers
every route the app registers; ``tests/test_openapi_source.py`` checks the expansion.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "minihs" / "api" / "openapi.yaml"
# The admin API's parts, one file per feature: each holds ``paths`` and may hold
# ``components.schemas``; they are laid into the document in file-name order.
ADMIN_SOURCES = REPO / "minihs" / "api" / "openapi_admin"
OUTPUT = REPO / "minihs" / "openapi.json"
CLIENT_V3 = "/_matrix/client/v3"
CLIENT_R0 = "/_matrix/client/r0"
JSON = "application/json"
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def expand_errors(node: Any) -> Any:
    """A copy of ``node`` with every ``x-errcodes`` response written out in full. Always a
    copy: anchored parts are one shared object in the loaded YAML."""
    if isinstance(node, list):
        return [expand_errors(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "x-errcodes" not in node:
        return {key: expand_errors(value) for key, value in node.items()}
    codes = node["x-errcodes"]
    listed = ", ".join(f"`{code}`" for code in codes)
    example = node.get("example", {"errcode": codes[0], "error": "..."})
    return {
        "description": f"{node['description']} Errcodes: {listed}.",
        "content": {JSON: {"schema": dict(ERROR_SCHEMA), "example": expand_errors(example)}},
    }


def legacy_r0(item: dict[str, Any]) -> dict[str, Any]:
    return {
        method: {**op, "operationId": op["operationId"] + "R0",
                 "summary": op["summary"] + " (legacy r0 path)", "deprecated": True}
        for method, op in item.items()
    }


def admin_parts() -> list[dict[str, Any]]:
    return [yaml.safe_load(path.read_text(encoding="utf-8"))
            for path in sorted(ADMIN_SOURCES.glob("*.yaml"))]


def build(source: str | None = None, parts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The document: the YAML's keys in order, with the client paths (v3, then r0) first, and
    the admin API's parts (``parts``, read from ``openapi_admin/`` when None) last."""
    if source is None:
        source = SOURCE.read_text(encoding="utf-8")
        parts = admin_parts() if parts is None else parts
    loaded = yaml.safe_load(source)
    loaded.pop("x-shared", None)
    client = expand_errors(loaded.pop("x-client-paths"))
    document = expand_errors(loaded)
    paths = {CLIENT_V3 + path: item for path, item in client.items()}
    paths.update({CLIENT_R0 + path: legacy_r0(item) for path, item in client.items()})
    paths.update(document["paths"])
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for part in parts or []:
        part = expand_errors(part)
        for path, item in part.get("paths", {}).items():
            if path in paths:
                raise ValueError(f"{path} is defined twice")
            paths[path] = item
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if name in schemas:
                raise ValueError(f"the schema {name} is defined twice")
            schemas[name] = schema
    document["paths"] = paths
    return document


def render(source: str | None = None) -> str:
    return json.dumps(build(source), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if minihs/openapi.json is not what the YAML gives")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run python scripts/make_openapi.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(json.loads(text)['paths'])} paths)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
