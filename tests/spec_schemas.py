"""The official Client-Server API definitions (spec v1.19) as JSON Schema validators, for tests
that check a response body against what the spec documents.

The definitions are read where the project keeps them, ``../shared/spec/matrix-spec-v1.19/``
beside the checkout (``MINIHS_SPEC_DIR`` points elsewhere); nothing of them is copied into the
project. Without them the calling test skips with the reason, except under ``CI=true``, where a
skip would hide a broken set-up, so it fails.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
import yaml

REPO = Path(__file__).resolve().parent.parent
SPEC_DIR = Path(
    os.environ.get("MINIHS_SPEC_DIR", REPO.parent / "shared" / "spec" / "matrix-spec-v1.19")
)
CLIENT_SERVER = SPEC_DIR / "data" / "api" / "client-server"


def require_spec() -> None:
    if CLIENT_SERVER.is_dir():
        return
    reason = f"the official spec definitions are not at {CLIENT_SERVER} (set MINIHS_SPEC_DIR)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> Any:
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


def _retrieve(uri: str) -> referencing.Resource:
    path = Path(uri.removeprefix("file://"))
    return referencing.Resource.from_contents(
        _load(path), default_specification=referencing.jsonschema.DRAFT202012
    )


_REGISTRY = referencing.Registry(retrieve=_retrieve)


def response_validator(api_file: str, path: str, method: str, status: str = "200") -> jsonschema.Validator:
    """A validator for the JSON body that ``method path`` answers with ``status``, as
    ``data/api/client-server/<api_file>`` documents it (``path`` as written there, e.g.
    ``/pushrules/``)."""
    require_spec()
    document_path = CLIENT_SERVER / api_file
    document = _load(document_path)
    operation = document["paths"][path][method.lower()]
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    # The $id makes the document's relative $refs (definitions/..., ../../event-schemas/...)
    # resolve against the file the schema came from; the document's components come along for
    # its local ones (#/components/schemas/..., as capabilities.yaml uses).
    rooted = {"$id": document_path.as_uri(), **schema}
    if "components" in document:
        rooted["components"] = document["components"]
    return jsonschema.Draft202012Validator(rooted, registry=_REGISTRY)


def assert_matches_spec(body: Any, api_file: str, path: str, method: str, status: str = "200") -> None:
    errors = sorted(
        response_validator(api_file, path, method, status).iter_errors(body), key=lambda e: e.path
    )
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def assert_event_matches_spec(event: Any, event_type: str) -> None:
    """Check an event (as sync delivers it) against ``data/event-schemas/schema/<event_type>.yaml``."""
    require_spec()
    document_path = SPEC_DIR / "data" / "event-schemas" / "schema" / f"{event_type}.yaml"
    rooted = {"$id": document_path.as_uri(), **_load(document_path)}
    validator = jsonschema.Draft202012Validator(rooted, registry=_REGISTRY)
    errors = sorted(validator.iter_errors(event), key=lambda e: e.path)
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
