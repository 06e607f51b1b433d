"""The official Client-Server API definitions, assembled in memory into one OpenAPI document.

The Matrix spec keeps one OpenAPI 3.1 file per module under ``data/api/client-server/``, each
with its own ``servers`` base path (``/_matrix/client/v3``, ``/_matrix/client/v1``, ...) and
``$ref``s into sibling files (``definitions/``, ``../../schemas``, ``../../event-schemas``). The
fuzz tests read them from ``../shared/spec/matrix-spec-v1.19/`` beside the checkout (nothing of
them is copied into this project) and build one document: the chosen operations under their full
paths, every relative ``$ref`` replaced by what it points to. Patches for the spec's own quirks
are applied by the test that declares them (tests/test_fuzz.py, ``OFFICIAL_SPEC_QUIRKS``).
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any, Iterable

import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_ROOT = REPO.parent / "shared" / "spec" / "matrix-spec-v1.19"
CLIENT_SERVER = SPEC_ROOT / "data" / "api" / "client-server"
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@functools.lru_cache(maxsize=None)
def _load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _pointer(document: Any, fragment: str) -> Any:
    """The part of ``document`` a JSON pointer (``/a/b``, RFC 6901) names."""
    node = document
    for token in filter(None, fragment.split("/")):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _inline(node: Any, file: Path, seen: tuple[str, ...] = ()) -> Any:
    """``node`` (found in ``file``) with every ``$ref`` replaced by a copy of its target.

    A ``$ref`` beside other keys (OpenAPI 3.1 allows it) keeps them, the local ones winning.
    A reference back into one that is being inlined would never end: it is an error here,
    and the spec has none among the operations minihs serves.
    """
    if isinstance(node, list):
        return [_inline(item, file, seen) for item in node]
    if not isinstance(node, dict):
        return node
    reference = node.get("$ref")
    if isinstance(reference, str):
        target_name, _, fragment = reference.partition("#")
        target_file = (file.parent / target_name).resolve() if target_name else file
        key = f"{target_file}#{fragment}"
        if key in seen:
            raise ValueError(f"circular $ref {reference!r} in {file}")
        target = _inline(_pointer(_load_yaml(target_file), fragment), target_file, (*seen, key))
        siblings = {k: _inline(v, file, seen) for k, v in node.items() if k != "$ref"}
        if not siblings:
            return copy.deepcopy(target)
        if isinstance(target, dict):
            return {**copy.deepcopy(target), **siblings}
        return siblings
    return {key: _inline(value, file, seen) for key, value in node.items()}


def base_path(module: dict[str, Any]) -> str:
    """The ``basePath`` default of a module's server URL template (e.g. ``/_matrix/client/v3``)."""
    (server,) = module["servers"]
    return server["variables"]["basePath"]["default"]


def official_operations() -> dict[tuple[str, str], tuple[Path, str]]:
    """Every operation the spec's Client-Server files define: (METHOD, full path) -> (file, path
    as written in that file)."""
    operations = {}
    for file in sorted(CLIENT_SERVER.glob("*.yaml")):
        module = _load_yaml(file)
        if not isinstance(module, dict) or "paths" not in module:
            continue
        prefix = base_path(module)
        for path, item in module["paths"].items():
            for method in item:
                if method in HTTP_METHODS:
                    operations[(method.upper(), prefix + path)] = (file, path)
    return operations


def assemble(wanted: Iterable[tuple[str, str]], base_url: str) -> dict[str, Any]:
    """One OpenAPI 3.1 document holding the ``wanted`` (METHOD, full path) operations, with
    every ``$ref`` inlined and ``servers`` pointing at ``base_url``."""
    available = official_operations()
    paths: dict[str, dict[str, Any]] = {}
    security_schemes: dict[str, Any] = {}
    for method, full_path in sorted(wanted):
        file, path = available[(method, full_path)]
        module = _load_yaml(file)
        item = module["paths"][path]
        shared = {k: v for k, v in item.items() if k not in HTTP_METHODS}  # path-level parameters
        entry = paths.setdefault(full_path, _inline(shared, file))
        entry[method.lower()] = _inline(item[method.lower()], file)
        schemes = module.get("components", {}).get("securitySchemes", {})
        security_schemes.update(_inline(schemes, file))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Matrix Client-Server API (official definitions, v1.19)",
                 "version": "v1.19"},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"securitySchemes": security_schemes},
    }
