"""The middlewares tests observe and disturb the server through: the request log and faults.

minihs only, not in the Matrix spec. :func:`minihs.api.app.create_app` installs each only when
it is on (the log with ``request_log.enabled``, faults with the admin API), so a server without
them pays nothing. In the chain they sit so:

    request_log_middleware        sees the final status and errcode, whatever happened inside
      matrix_error_middleware     renders errors, injected ones included
        fault_middleware          may answer, delay or drop before anything else runs
          reset_gate_middleware   a faulted request never enters the gate: it changes nothing
            the endpoint

Requests under ``/_minihs/`` (the admin API and the inspector) are neither logged nor faulted:
a test's own bookkeeping must not fill the log it reads, nor be caught by its own rules.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

import orjson
from aiohttp import web

from minihs.api.request import (
    AUTHENTICATED_USER, access_token_of, homeserver, redact_tokens, request_key,
)
from minihs.domain.faults import FaultRule
from minihs.domain.request_log import RequestLog
from minihs.spec.errors import MatrixError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The part of the URL space that is never logged or faulted.
MINIHS_AREA = "/_minihs/"
# What a dropped request "answers" inside the server: nothing is ever sent (the connection is
# closed first), but aiohttp's access log names it, with the code nginx uses for "no response".
DROPPED_STATUS = 444


# The fault rule that took the request (the request log names it, or notes the drop).
FAULT_RULE = request_key("minihs.fault_rule", FaultRule)


# --- faults ------------------------------------------------------------------------------


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the first fault rule that matches the request (:mod:`minihs.domain.faults`):
    wait its ``delay_ms``, then answer its status without running the endpoint, or close the
    connection with no answer, or (a delay alone) run the endpoint as usual."""
    faults = homeserver(request).faults
    if not faults or request.path.startswith(MINIHS_AREA):
        return await handler(request)
    user = await _user_if_known(request) if faults.need_user else None
    rule = faults.match(request.method, request.rel_url.raw_path, user)
    if rule is None:
        return await handler(request)
    request[FAULT_RULE] = rule
    if not faults.need_user and homeserver(request).request_log.enabled:
        # The endpoint may never run to authenticate it: the log still names the user.
        await _user_if_known(request)
    if rule.delay_ms:
        await asyncio.sleep(rule.delay_ms / 1000)
    if rule.drop:
        transport = request.transport
        if transport is not None:
            transport.close()
        # aiohttp finds the connection closed when it comes to send this, and sends nothing.
        return web.Response(status=DROPPED_STATUS)
    error = rule.answer()
    if error is not None:
        raise error
    return await handler(request)


async def _user_if_known(request: web.Request) -> str | None:
    """The user the request's access token belongs to, or None: the rules decide, the
    endpoint (if it runs) answers for a missing or bad token."""
    try:
        token = access_token_of(request)
    except MatrixError:
        return None
    if not token:
        return None
    owner = await homeserver(request).accounts.requester_for_token(token)
    if owner is None:
        return None
    request[AUTHENTICATED_USER] = owner.user_id
    return owner.user_id


# --- the request log ---------------------------------------------------------------------


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every request answered outside ``/_minihs/`` in the homeserver's request log
    (:mod:`minihs.domain.request_log`), with the status and errcode the client got."""
    if request.path.startswith(MINIHS_AREA):
        return await handler(request)
    hs = homeserver(request)
    ts = hs.clock.now_ms()
    # Set up front, so that reading them back is a plain lookup (a missing key costs a raise).
    request[AUTHENTICATED_USER] = None
    request[FAULT_RULE] = None
    started = time.perf_counter()
    log = hs.request_log
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # the statuses below 400, which aiohttp sends itself
        _record(log, request, ts, started, exc.status, None, None)
        raise
    except BaseException:
        # The client hung up and the handler was cancelled: nothing was answered.
        _record(log, request, ts, started, None, None, None)
        raise
    rule = request[FAULT_RULE]
    if rule is not None and rule.drop:
        _record(log, request, ts, started, None, None, None)
        return response
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes):
        body = None
    request_body = None
    # A body over the size limit was refused (413) while being read: not read a second time.
    if log.keeps_bodies and request.body_exists and response.status != 413:
        request_body = await _request_body(request)
    _record(log, request, ts, started, response.status, body, request_body)
    return response


def _record(
    log: RequestLog, request: web.Request, ts: int, started: float, status: int | None,
    response_body: bytes | None, request_body: bytes | None,
) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    errcode = None
    if status is not None and status >= 400 and response_body:
        errcode = _errcode(response_body)
    resource = request.match_info.route.resource
    rule = request[FAULT_RULE]
    url = request.rel_url
    summary = (
        ts, request.method, url.raw_path, resource and resource.canonical,
        request[AUTHENTICATED_USER], status, errcode, duration_ms, rule and rule.id,
    )
    if not log.keeps_bodies:
        log.record(*summary)  # the query is redacted only for an entry that keeps it
        return
    query = url.raw_query_string
    log.record(
        *summary, _redacted_query(query) if query else "", request.headers, request_body,
        response_body,
    )


async def _request_body(request: web.Request) -> bytes | None:
    """The body the endpoint read (aiohttp keeps it), or the body it left unread."""
    try:
        return await request.read()
    except (web.HTTPException, ConnectionError, asyncio.TimeoutError, ValueError):
        return None  # too large for the server, or the client went away


def _errcode(body: bytes) -> str | None:
    try:
        errcode = orjson.loads(body).get("errcode")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return errcode if isinstance(errcode, str) else None


def _redacted_query(raw_query: str) -> str:
    if "token" not in raw_query and "%" not in raw_query:
        return raw_query  # no parameter name here can read as access_token, encoded or not
    return redact_tokens("?" + raw_query)[1:]
