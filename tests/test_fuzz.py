"""Fuzzing: schemathesis drives a live minihs against the official Client-Server API definitions.

Every operation minihs serves is fuzzed against the Matrix spec's own OpenAPI files (v1.19, read
from ``../shared/spec/matrix-spec-v1.19/`` beside the checkout and assembled in memory by
``tests/fuzzing/official_spec.py``), not only against the document minihs publishes: a test
against our own document can only find what we already believe. Our document
(``GET /_minihs/openapi.json``) still covers what the official one lacks (``OWN_DOCUMENT_ONLY``)
and drives the stateful test along its links.

Each operation gets its documented examples, then schema-conforming and schema-violating cases
(Hypothesis), authenticated with a real access token, and each answer must pass: no 5xx, a status
the document lists for the operation (or one ``OFFICIAL_SPEC_QUIRKS`` tolerates, with an error
body carrying one of its errcodes), the documented content type, and a body matching the
documented schema. A failure names the operation, the case (as a curl command) and the answer.

schemathesis is driven through its Python API (``schemathesis.openapi.from_dict``/``from_url``,
``APIOperation.as_strategy``, ``Case.call``/``validate_response``, ``as_state_machine``), not
its pytest integration: that integration reaches into pytest's internals and broke under pytest
9.1 (``'Function' object has no attribute '_nodeid'``). The CLI (``st run`` in a subprocess)
would be as independent of pytest, but could not mix the world's real room and user IDs into
generation, sign shared-secret registrations or give logouts throwaway tokens without a hooks
module loaded by environment variable, and its report would have to be parsed back.

Quick mode (the test suite) runs a few examples per operation with a fixed seed;
``scripts/fuzz.py`` runs these same tests with many more, a random seed and the legacy ``r0``
paths (against our document). Environment knobs (set by that script):
``MINIHS_FUZZ_MAX_EXAMPLES``, ``MINIHS_FUZZ_SEED``, ``MINIHS_FUZZ_R0=1`` and
``MINIHS_FUZZ_REPORT`` (a JSON file the per-operation statuses are written to).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fuzzing import official_spec
from fuzzing.driver import SHARED_SECRET, FuzzStats, Sender, World, fuzz_operation, install_world
from minihs.api import app as minihs_app
from minihs.config import Config, apply_testing_profile
from minihs.testing import MinihsServer

REPO = Path(__file__).resolve().parent.parent
QUICK_MAX_EXAMPLES = 6
MAX_EXAMPLES = int(os.environ.get("MINIHS_FUZZ_MAX_EXAMPLES", QUICK_MAX_EXAMPLES))
# Quick mode is deterministic (Hypothesis derandomized); scripts/fuzz.py passes a random seed.
SEED = int(os.environ["MINIHS_FUZZ_SEED"]) if "MINIHS_FUZZ_SEED" in os.environ else None
INCLUDE_R0 = os.environ.get("MINIHS_FUZZ_R0") == "1"
REPORT_PATH = os.environ.get("MINIHS_FUZZ_REPORT")
IN_CI = os.environ.get("CI") == "true"
R0 = "/_matrix/client/r0/"
OWN_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# What minihs serves that the official definitions do not describe, and why; these are fuzzed
# against our own document. Each must be a route minihs registers (a test checks both ways).
OWN_DOCUMENT_ONLY = {
    ("GET", "/_minihs/openapi.json"): "minihs's own endpoint",
    ("GET", "/_synapse/admin/v1/register"): "Synapse's admin API, not the Matrix spec",
    ("POST", "/_synapse/admin/v1/register"): "Synapse's admin API, not the Matrix spec",
    ("GET", "/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms"):
        "MSC2666's unstable path, kept for older clients",
    ("GET", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}"):
        "the spec has only .../{stateKey}; clients drop the trailing slash of an empty key",
    ("PUT", "/_matrix/client/v3/rooms/{roomId}/state/{eventType}"):
        "the spec has only .../{stateKey}; clients drop the trailing slash of an empty key",
    ("GET", "/_minihs/admin/clock"): "minihs's own endpoint",
    ("POST", "/_minihs/admin/clock"): "minihs's own endpoint",
    ("POST", "/_minihs/admin/faults"): "minihs's own admin API (faults)",
    ("GET", "/_minihs/admin/faults"): "minihs's own admin API (faults)",
    ("DELETE", "/_minihs/admin/faults"): "minihs's own admin API (faults)",
    ("DELETE", "/_minihs/admin/faults/{faultId}"): "minihs's own admin API (faults)",
    ("GET", "/_minihs/admin/requests"): "minihs's own admin API (request log)",
    ("DELETE", "/_minihs/admin/requests"): "minihs's own admin API (request log)",
    ("GET", "/_minihs/admin/requests/{requestId}"): "minihs's own admin API (request log)",
    ("POST", "/_minihs/admin/scenario"): "minihs's own admin API (scenarios)",
    # Not fuzzed at all: it would log the fuzzing user out halfway (tests/test_admin.py covers it).
    ("POST", "/_minihs/admin/reset"): "minihs's own endpoint (left out of fuzzing)",
    ("GET", "/_minihs/admin/snapshots"): "minihs's own endpoint",
    ("PUT", "/_minihs/admin/snapshots/{name}"): "minihs's own endpoint",
    ("DELETE", "/_minihs/admin/snapshots/{name}"): "minihs's own endpoint",
    # Not fuzzed: restoring a snapshot the fuzzer took would put the fuzzing world back to another
    # time, its tokens with it (tests/test_snapshots.py covers it).
    ("POST", "/_minihs/admin/snapshots/{name}/restore"):
        "minihs's own endpoint (left out of fuzzing)",
    # The inspector (issue 17): its page, files and read-only endpoints.
    **{("GET", path): "minihs's own endpoint (the inspector)" for path in (
        "/_minihs/", "/_minihs/inspector/{name}",
        "/_minihs/admin/status", "/_minihs/admin/users", "/_minihs/admin/rooms",
        "/_minihs/admin/rooms/{roomId}", "/_minihs/admin/rooms/{roomId}/members",
        "/_minihs/admin/rooms/{roomId}/state", "/_minihs/admin/rooms/{roomId}/events",
        "/_minihs/admin/events/{eventId}", "/_minihs/admin/mutual_rooms",
    )},
}
NOT_FUZZED = {("POST", "/_minihs/admin/reset"), ("POST", "/_minihs/admin/snapshots/{name}/restore")}


# --- the official definitions' quirks that are tolerated ------------------------------------------


@dataclass(frozen=True)
class Quirk:
    """Where the official definitions and a correct server part, and what is tolerated there.

    ``operations`` names (METHOD, path) pairs, or is "*" for all; ``status`` with ``errcodes``
    accepts that undocumented status when the body is an error with one of those errcodes;
    ``patch`` edits the assembled document in memory instead."""

    operations: Any
    why: str
    status: int | None = None
    errcodes: tuple[str, ...] = ()
    patch: Callable[[dict[str, Any]], None] | None = None

    def applies_to(self, method: str, path: str) -> bool:
        return self.operations == "*" or (method, path) in self.operations


def _state_event_any_of(document: dict[str, Any]) -> None:
    path = "/_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}"
    schema = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    schema["schema"]["anyOf"] = schema["schema"].pop("oneOf")


V3 = "/_matrix/client/v3"
ROOM_READS = {("GET", f"{V3}/rooms/{{roomId}}/{rest}")
              for rest in ("state", "members", "joined_members")}
JOINS = {("POST", f"{V3}/join/{{roomIdOrAlias}}"), ("POST", f"{V3}/rooms/{{roomId}}/join")}
TYPING = ("PUT", f"{V3}/rooms/{{roomId}}/typing/{{userId}}")
ROOM_EPHEMERAL = {TYPING, ("POST", f"{V3}/rooms/{{roomId}}/read_markers"),
                  ("POST", f"{V3}/rooms/{{roomId}}/receipt/{{receiptType}}/{{eventId}}")}

# One row per tolerated difference, each with why. Statuses the spec's "API Standards" section
# gives every endpoint are tolerated everywhere; the rest only where named.
OFFICIAL_SPEC_QUIRKS = [
    Quirk("*", status=400, errcodes=("M_NOT_JSON", "M_BAD_JSON", "M_MISSING_PARAM",
                                     "M_INVALID_PARAM"),
          why="\"API Standards\" > common error codes: any endpoint refuses a malformed "
              "request this way, but most operations list no 400 (schema-violating cases "
              "are exactly such requests)"),
    Quirk("*", status=413, errcodes=("M_TOO_LARGE",),
          why="\"API Standards\": a body over the server's limit, on any endpoint"),
    Quirk("*", status=429, errcodes=("M_LIMIT_EXCEEDED",),
          why="\"API Standards\" > rate limiting applies to any endpoint; few list 429"),
    Quirk({("GET", f"{V3}/rooms/{{roomId}}/state/{{eventType}}/{{stateKey}}")},
          patch=_state_event_any_of,
          why="the 200 schema is oneOf(object, state event), and every state event is also "
              "an object: a format=event answer matches both, so oneOf can never pass; "
              "anyOf is what the spec means"),
    Quirk(JOINS, status=404, errcodes=("M_NOT_FOUND",),
          why="joining a room or alias that does not exist: the spec lists only 403/429; "
              "Synapse answers 404 M_NOT_FOUND too (\"No known servers\", unknown alias)"),
    Quirk({("POST", f"{V3}/rooms/{{roomId}}/leave")}, status=403, errcodes=("M_FORBIDDEN",),
          why="leaving a room you are not in: the spec lists only 200/429, but the "
              "authorization rules refuse the event and Synapse answers 403 too"),
    Quirk({("PUT", f"{V3}/rooms/{{roomId}}/send/{{eventType}}/{{txnId}}")}, status=403,
          errcodes=("M_FORBIDDEN",),
          why="sending into a room you are not in (or without the power level): the spec "
              "lists only 200/400, but the authorization rules refuse the event, and Synapse "
              "answers 403 too"),
    Quirk({("POST", f"{V3}/user/{{userId}}/filter"),
           ("GET", f"{V3}/user/{{userId}}/filter/{{filterId}}")}, status=403,
          errcodes=("M_FORBIDDEN",),
          why="another user's filters: the spec lists no 403, but a user may only upload and "
              "read their own (Synapse: 403 \"Cannot create/get filters for other users\")"),
    Quirk(ROOM_EPHEMERAL, status=403, errcodes=("M_FORBIDDEN",),
          why="typing, a receipt or a read marker in a room you are not joined to (or typing "
              "for another user): the spec lists only 200/429 (receipts 200/400/429); Synapse "
              "answers 403 too"),
    Quirk(ROOM_EPHEMERAL - {TYPING}, status=404, errcodes=("M_NOT_FOUND",),
          why="a receipt or read marker for an event that is not in the room: the spec names "
              "no answer; 404 M_NOT_FOUND says what is missing"),
    Quirk({("PUT", f"{V3}/presence/{{userId}}/status")}, status=403, errcodes=("M_FORBIDDEN",),
          why="setting another user's presence: the spec lists only 200/429; Synapse answers "
              "403 too"),
]


def official_document(base_url: str, operations: set[tuple[str, str]]) -> dict[str, Any]:
    document = official_spec.assemble(operations, base_url)
    for quirk in OFFICIAL_SPEC_QUIRKS:
        if quirk.patch is not None:
            quirk.patch(document)
    return document


# --- what minihs serves ----------------------------------------------------------------------------


def served_operations() -> set[tuple[str, str]]:
    """Every (METHOD, path template) the application registers, r0 copies and HEAD left out."""
    document = json.loads((REPO / "minihs" / "openapi.json").read_text(encoding="utf-8"))
    app = minihs_app.create_app(apply_testing_profile(Config()))
    served = set()
    for route in app.router.routes():
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical)
        if route.method == "HEAD" or path.startswith(R0):
            continue  # aiohttp adds HEAD beside every GET; r0 paths copy v3 ones
        if route.method == "*":  # one handler for any method: the document names the ones served
            served.update((method.upper(), path) for method in document["paths"].get(path, {}))
        else:
            served.add((route.method, path))
    return served


SERVED = served_operations()
OFFICIAL = sorted(SERVED - OWN_DOCUMENT_ONLY.keys())
OWN = sorted(OWN_DOCUMENT_ONLY.keys() - NOT_FUZZED)


def _label(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1]}"


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_minihs():
    with MinihsServer({"registration": {"shared_secret": SHARED_SECRET}}) as server:
        yield server


@pytest.fixture(scope="module")
def http_session():
    with requests.Session() as session:
        yield session


@pytest.fixture(scope="module")
def fuzz_world(live_minihs) -> World:
    return World(live_minihs).build()


@pytest.fixture(scope="module")
def fuzz_stats():
    stats = FuzzStats(MAX_EXAMPLES, SEED, INCLUDE_R0)
    yield stats
    stats.write(REPORT_PATH)


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "request-timeout": 10,
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
    })


@pytest.fixture(scope="module")
def official_definitions() -> dict[str, Any]:
    if not official_spec.CLIENT_SERVER.is_dir():
        reason = (f"the official Client-Server definitions are not at "
                  f"{official_spec.CLIENT_SERVER} (CI copies shared/ beside the checkout)")
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true this fails instead of skipping", pytrace=False)
        pytest.skip(reason)
    # The base URL is given to each call instead; the document names a placeholder.
    return official_document("http://127.0.0.1", set(OFFICIAL))


@pytest.fixture(scope="module")
def official_api(official_definitions, live_minihs, fuzz_world):
    schema = schemathesis.openapi.from_dict(official_definitions, config=_config())
    schema.config.update(base_url=live_minihs.base_url)
    install_world(schema, fuzz_world)
    return schema


@pytest.fixture(scope="module")
def own_api(live_minihs, fuzz_world):
    schema = schemathesis.openapi.from_url(
        live_minihs.base_url + "/_minihs/openapi.json", config=_config()
    )
    schema.config.update(base_url=live_minihs.base_url)
    install_world(schema, fuzz_world)
    return schema


# --- judging an answer ----------------------------------------------------------------------------


def verify_against_official(document: dict[str, Any]) -> Callable[[Any, Any], None]:
    def verify(case, response) -> None:
        method, path, status = case.operation.method.upper(), case.operation.path, \
            response.status_code
        if status >= 500:
            raise AssertionError(f"server error {status}")
        documented = document["paths"][path][method.lower()]["responses"]
        if str(status) not in documented:
            tolerated = [quirk for quirk in OFFICIAL_SPEC_QUIRKS
                         if quirk.status == status and quirk.applies_to(method, path)]
            if not tolerated:
                raise AssertionError(f"status {status} is not documented (documented: "
                                     f"{', '.join(documented)}; no quirk tolerates it)")
            errcode = _errcode(response)
            if not any(errcode in quirk.errcodes for quirk in tolerated):
                raise AssertionError(f"status {status} is tolerated only with errcode "
                                     f"{' or '.join(c for q in tolerated for c in q.errcodes)}, "
                                     f"got {errcode!r}")
        elif status >= 400 and not _has_schema(documented[str(status)]):
            # "API Standards": an error the operation documents without a body schema is the
            # standard error object (ones with a schema, like UIA's 401, are checked by it).
            _errcode(response)
        case.validate_response(response, checks=[content_type_conformance,
                                                 response_schema_conformance])

    return verify


def _has_schema(documented_response: dict[str, Any]) -> bool:
    return any("schema" in media for media in documented_response.get("content", {}).values())


def _errcode(response) -> str:
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("an error answer whose body is not JSON") from None
    if not (isinstance(body, dict) and isinstance(body.get("errcode"), str)
            and body["errcode"].startswith("M_")):
        raise AssertionError(f"an error answer without an M_ errcode: {body!r}")
    return body["errcode"]


def verify_against_own(case, response) -> None:
    case.validate_response(response, checks=OWN_CHECKS)


# --- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", OFFICIAL, ids=_label)
def test_operation_answers_as_the_official_definitions_say(
    operation, official_api, official_definitions, fuzz_world, http_session, fuzz_stats
):
    send = Sender(fuzz_world, http_session, fuzz_stats, "official")
    method, path = operation
    failure = fuzz_operation(official_api[path][method], send,
                             verify_against_official(official_definitions),
                             max_examples=MAX_EXAMPLES, seed=SEED)
    assert failure is None, failure


@pytest.mark.parametrize("operation", OWN, ids=_label)
def test_operation_the_official_definitions_lack_answers_as_our_document_says(
    operation, own_api, fuzz_world, http_session, fuzz_stats
):
    send = Sender(fuzz_world, http_session, fuzz_stats, "own")
    method, path = operation
    failure = fuzz_operation(own_api[path][method], send, verify_against_own,
                             max_examples=MAX_EXAMPLES, seed=SEED)
    assert failure is None, failure


@pytest.mark.skipif(not INCLUDE_R0, reason="long mode only (scripts/fuzz.py): the r0 copies of "
                    "v3 paths run the same handlers")
def test_legacy_r0_paths_answer_as_our_document_says(own_api, fuzz_world, http_session,
                                                      fuzz_stats):
    send = Sender(fuzz_world, http_session, fuzz_stats, "own")
    failures = [
        failure
        for path, methods in own_api.items() if path.startswith(R0)
        for operation in methods.values()
        if (failure := fuzz_operation(operation, send, verify_against_own,
                                      max_examples=MAX_EXAMPLES, seed=SEED))
    ]
    assert not failures, "\n".join(failures)


def test_call_sequences_along_our_documents_links_answer_as_it_says(
    own_api, http_session, fuzz_world, fuzz_stats
):
    """Stateful: create or join a room, then act in it (invite, kick, ban, read its state);
    register, then ask for mutual rooms with the new account; follow next_batch. The official
    definitions have no links, so this follows ours."""
    send = Sender(fuzz_world, http_session, fuzz_stats, "own, stateful")
    fuzzed = own_api.exclude(path="/_minihs/admin/reset").exclude(
        path="/_minihs/admin/snapshots/{name}/restore"
    )
    if not INCLUDE_R0:
        fuzzed = fuzzed.exclude(path_regex="^/_matrix/client/r0/")

    class Sequences(fuzzed.as_state_machine()):
        def setup(self):
            # Every sequence starts from the same state, or Hypothesis could not replay one.
            fuzz_world.rebuild()

        def call(self, case, **kwargs):
            return send(case)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=OWN_CHECKS)

    settings = hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        stateful_step_count=6,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        suppress_health_check=list(HealthCheck),
    )
    if SEED is not None:
        Sequences.TestCase.settings = settings
    Sequences.run(settings=settings)


def test_every_served_operation_is_fuzzed_against_the_official_or_our_document(
    official_definitions,
):
    official = official_spec.official_operations()
    assert set(OFFICIAL) <= official.keys(), set(OFFICIAL) - official.keys()
    # Our list names only what the official definitions really lack, and only served routes.
    assert not OWN_DOCUMENT_ONLY.keys() & official.keys()
    assert OWN_DOCUMENT_ONLY.keys() <= SERVED
    assert set(official_definitions["paths"]) == {path for _, path in OFFICIAL}


def _answer(live_minihs, session, path: str) -> requests.Response:
    return session.get(live_minihs.base_url + path, timeout=10)


def test_the_official_check_refuses_a_status_the_operation_does_not_document(
    official_api, official_definitions, live_minihs, http_session
):
    case = official_api[f"{V3}/rooms/{{roomId}}/state"]["GET"].Case(
        path_parameters={"roomId": "!nowhere:localhost"}
    )
    not_found = _answer(live_minihs, http_session, f"{V3}/directory/room/%23nowhere%3Alocalhost")
    assert not_found.status_code == 404
    with pytest.raises(AssertionError, match="status 404 is not documented"):
        verify_against_official(official_definitions)(case, not_found)


def test_the_official_check_tolerates_a_quirk_only_with_its_errcode(
    official_api, official_definitions, live_minihs, http_session
):
    verify = verify_against_official(official_definitions)
    join = official_api[f"{V3}/join/{{roomIdOrAlias}}"]["POST"].Case(
        path_parameters={"roomIdOrAlias": "#nowhere:localhost"}, body={}
    )
    not_found = _answer(live_minihs, http_session, f"{V3}/directory/room/%23nowhere%3Alocalhost")
    verify(join, not_found)  # 404 M_NOT_FOUND: the join quirk
    unrecognized = _answer(live_minihs, http_session, f"{V3}/no/such/endpoint")
    assert unrecognized.status_code == 404
    with pytest.raises(AssertionError, match="tolerated only with errcode M_NOT_FOUND"):
        verify(join, unrecognized)


def test_every_quirk_names_operations_that_are_fuzzed():
    for quirk in OFFICIAL_SPEC_QUIRKS:
        assert quirk.why
        assert quirk.operations == "*" or quirk.operations <= set(OFFICIAL), quirk


# --- our own document -----------------------------------------------------------------------------


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_openapi_document_is_what_make_openapi_writes():
    packaged = (REPO / "minihs" / "openapi.json").read_text(encoding="utf-8")
    assert packaged == _load_script("make_openapi").render()


def test_openapi_document_describes_every_route_the_server_registers():
    document = json.loads((REPO / "minihs" / "openapi.json").read_text(encoding="utf-8"))
    documented = {(method.upper(), path) for path, item in document["paths"].items()
                  for method in item}
    app = minihs_app.create_app(apply_testing_profile(Config()))
    served = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD beside every GET
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", route.resource.canonical)
        if route.method == "*":  # one handler for any method: the document names the ones it serves
            served.update(entry for entry in documented if entry[1] == path)
            assert any(entry[1] == path for entry in documented), path
        else:
            served.add((route.method, path))
    assert served - documented == set()
    assert documented - served == set()


async def test_openapi_document_is_served_at_minihs_openapi_json(hs):
    body = await hs.request("GET", "/_minihs/openapi.json")
    assert hs.last_response.content_type == "application/json"
    assert body == json.loads((REPO / "minihs" / "openapi.json").read_text(encoding="utf-8"))
    assert body["openapi"].startswith("3.1")
