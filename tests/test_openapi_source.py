"""The OpenAPI document's source, minihs/api/openapi.yaml, and what scripts/make_openapi.py makes of it.

tests/test_fuzz.py checks that the packaged minihs/openapi.json is what the script writes and that
it covers every route the app registers; these tests check the expansion itself.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _load_make_openapi():
    spec = importlib.util.spec_from_file_location("make_openapi", REPO / "scripts" / "make_openapi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_openapi = _load_make_openapi()


@pytest.fixture(scope="module")
def document():
    return make_openapi.build()


def operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_every_client_path_is_served_under_v3_and_r0_with_the_same_operation(document):
    v3 = {p[len(make_openapi.CLIENT_V3):]: item for p, item in document["paths"].items()
          if p.startswith(make_openapi.CLIENT_V3 + "/")}
    r0 = {p[len(make_openapi.CLIENT_R0):]: item for p, item in document["paths"].items()
          if p.startswith(make_openapi.CLIENT_R0 + "/")}
    assert v3 and v3.keys() == r0.keys()
    for path, item in v3.items():
        for method, op in item.items():
            legacy = r0[path][method]
            assert legacy["operationId"] == op["operationId"] + "R0"
            assert legacy["summary"] == op["summary"] + " (legacy r0 path)"
            assert legacy["deprecated"] is True
            assert "deprecated" not in op
            rest = {k: v for k, v in legacy.items() if k not in ("operationId", "summary", "deprecated")}
            assert rest == {k: v for k, v in op.items() if k not in ("operationId", "summary")}


def test_the_source_extensions_do_not_reach_the_document(document):
    text = json.dumps(document)
    for extension in ("x-shared", "x-client-paths", "x-errcodes"):
        assert extension not in text


def test_an_errcodes_response_becomes_a_standard_error_answer():
    source = """
paths:
  /thing:
    get:
      responses:
        '403': {description: Not yours., x-errcodes: [M_FORBIDDEN, M_UNKNOWN]}
x-client-paths: {}
"""
    response = make_openapi.build(source)["paths"]["/thing"]["get"]["responses"]["403"]
    assert response == {
        "description": "Not yours. Errcodes: `M_FORBIDDEN`, `M_UNKNOWN`.",
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "example": {"errcode": "M_FORBIDDEN", "error": "..."},
        }},
    }


def test_an_errcodes_response_keeps_its_own_example():
    source = """
paths:
  /thing:
    get:
      responses:
        '400':
          description: Bad.
          x-errcodes: [M_INVALID_PARAM]
          example: {errcode: M_INVALID_PARAM, error: The user ID provided was invalid}
x-client-paths: {}
"""
    response = make_openapi.build(source)["paths"]["/thing"]["get"]["responses"]["400"]
    assert response["content"]["application/json"]["example"]["error"] == (
        "The user ID provided was invalid"
    )


def test_a_shared_part_used_twice_is_written_out_in_both_places():
    source = """
x-shared:
  responses:
    gone: &gone {description: Gone., x-errcodes: [M_NOT_FOUND]}
x-client-paths:
  /a: {get: {operationId: a, summary: A., responses: {'404': *gone}}}
paths:
  /b: {get: {operationId: b, summary: B., responses: {'404': *gone}}}
"""
    document = make_openapi.build(source)
    assert "x-shared" not in document
    a = document["paths"]["/_matrix/client/v3/a"]["get"]["responses"]["404"]
    b = document["paths"]["/b"]["get"]["responses"]["404"]
    assert a == b and a is not b


def test_every_operation_id_is_unique(document):
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids))


def test_every_reference_names_a_component_that_exists(document):
    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs(document))
    assert found
    for ref in found:
        assert ref.startswith("#/components/")
        section, _, name = ref.removeprefix("#/components/").partition("/")
        assert name in document["components"][section], ref


def test_every_link_names_an_operation_that_exists(document):
    ids = {op["operationId"] for _, _, op in operations(document)}
    for _, _, op in operations(document):
        for response in op["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids


def test_every_authenticated_operation_answers_401(document):
    for path, method, op in operations(document):
        if op["security"]:
            assert "401" in op["responses"], (method, path)
