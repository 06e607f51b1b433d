"""Fault rules: requests a test wants answered with an error, late, or not at all.

A rule names a method (or ``*``), a path pattern (:mod:`minihs.domain.path_patterns`) and
optionally a user, and what happens to the requests it matches: a status (with an errcode, a
message and ``retry_after_ms``) answered without running the endpoint, a delay first, or a
dropped connection. ``times: N`` makes it match the next N requests only; then it is gone.

The first live rule in the order they were added wins. Matching is synchronous, so two requests
arriving together can never both take a rule's last turn. The HTTP layer applies the rule
(minihs/api/observe.py); this module only decides which one applies, and to whom.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from minihs.domain.path_patterns import PathPattern, compile_pattern
from minihs.spec.errors import Codes, MatrixError, not_found
from minihs.spec.ids import is_valid_user_id

MAX_RULES = 1_000
MAX_DELAY_MS = 600_000
MAX_COUNT = 2**53 - 1  # the largest integer every JSON reader keeps exactly
MAX_ERROR_LENGTH = 1_000
DEFAULT_ERROR = "Injected fault"
# An HTTP method is a "token" (RFC 9110 section 5.6.2).
_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}")
_ERRCODE = re.compile(r"M_[A-Z0-9_]{1,253}")
FIELDS = frozenset(
    {"method", "path", "user", "status", "errcode", "error", "retry_after_ms", "delay_ms",
     "drop", "times"}
)
_SET_BY_THE_SERVER = frozenset({"id", "remaining", "matched"})


def _invalid(field: str, why: str) -> MatrixError:
    return MatrixError(400, Codes.INVALID_PARAM, f"{field}: {why}")


@dataclass(eq=False)
class FaultRule:
    id: str
    method: str
    pattern: PathPattern
    user: str | None
    status: int | None
    errcode: str | None
    error: str | None
    retry_after_ms: int | None
    delay_ms: int | None
    drop: bool
    times: int | None
    remaining: int | None
    matched: int = 0

    def applies_to(self, method: str, raw_path: str, user: str | None) -> bool:
        return (
            (self.method == "*" or self.method == method)
            and (self.user is None or self.user == user)
            and self.pattern.matches(raw_path)
        )

    def answer(self) -> MatrixError | None:
        """The error the request is answered with, or None when the rule sets no status."""
        if self.status is None:
            return None
        errcode = self.errcode or (Codes.LIMIT_EXCEEDED if self.status == 429 else Codes.UNKNOWN)
        extra, headers = {}, {}
        if self.retry_after_ms is not None:
            extra["retry_after_ms"] = self.retry_after_ms
            if self.status == 429:  # RFC 9110: Retry-After is in whole seconds
                headers["Retry-After"] = str(math.ceil(self.retry_after_ms / 1000))
        return MatrixError(
            self.status, errcode, self.error or DEFAULT_ERROR, extra=extra, headers=headers
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.pattern.source,
            "user": self.user,
            "status": self.status,
            "errcode": self.errcode,
            "error": self.error,
            "retry_after_ms": self.retry_after_ms,
            "delay_ms": self.delay_ms,
            "drop": self.drop,
            "times": self.times,
            "remaining": self.remaining,
            "matched": self.matched,
        }


def _integer(spec: Mapping[str, Any], field: str, low: int, high: int) -> int | None:
    value = spec.get(field)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(field, "must be an integer or null")
    if not low <= value <= high:
        raise _invalid(field, f"must be between {low} and {high}")
    return value


def _string(spec: Mapping[str, Any], field: str) -> str | None:
    value = spec.get(field)
    if value is not None and not isinstance(value, str):
        raise _invalid(field, "must be a string or null")
    return value


class FaultRules:
    """The live rules, in the order they were added. Ids (``f1``, ``f2``...) are never reused
    while the server runs, so a test holding an old id can never remove someone else's rule."""

    def __init__(self, max_rules: int = MAX_RULES) -> None:
        self._rules: list[FaultRule] = []
        self._max_rules = max_rules
        self._last_id = 0
        self._with_user = 0  # how many live rules name a user

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def need_user(self) -> bool:
        """Whether some rule names a user: only then must a request's user be known to match."""
        return self._with_user > 0

    def add(self, spec: Mapping[str, Any]) -> FaultRule:
        """A new rule from ``spec`` (the JSON shape of a rule without its server-set fields).
        Anything wrong is 400 ``M_INVALID_PARAM`` naming the field."""
        for name in spec:
            if name in _SET_BY_THE_SERVER:
                raise _invalid(name, "is set by the server, not given")
            if name not in FIELDS:
                raise _invalid(name, f"unknown field (a rule has {', '.join(sorted(FIELDS))})")
        method = spec.get("method")
        if not isinstance(method, str) or not _METHOD.fullmatch(method):
            raise _invalid("method", "must be an HTTP method such as PUT, or '*' for any")
        pattern = compile_pattern(spec.get("path"), "path")
        user = _string(spec, "user")
        if user is not None and not is_valid_user_id(user):
            raise _invalid("user", f"{user!r} is not a user ID")
        status = _integer(spec, "status", 400, 599)
        errcode = _string(spec, "errcode")
        if errcode is not None and not _ERRCODE.fullmatch(errcode):
            raise _invalid("errcode", "must look like M_SOMETHING (capitals, digits, '_')")
        error = _string(spec, "error")
        if error is not None and len(error) > MAX_ERROR_LENGTH:
            raise _invalid("error", f"at most {MAX_ERROR_LENGTH} characters")
        retry_after_ms = _integer(spec, "retry_after_ms", 0, MAX_COUNT)
        delay_ms = _integer(spec, "delay_ms", 0, MAX_DELAY_MS)
        drop = spec.get("drop")
        if drop is None:
            drop = False
        elif not isinstance(drop, bool):
            raise _invalid("drop", "must be a boolean")
        times = _integer(spec, "times", 1, MAX_COUNT)
        if status is None:
            for name, value in (("errcode", errcode), ("error", error),
                                ("retry_after_ms", retry_after_ms)):
                if value is not None:
                    raise _invalid(name, "only goes with a status")
            if delay_ms is None and not drop:
                raise _invalid("status", "a rule needs a status, a delay_ms or drop: true")
        elif drop:
            raise _invalid("drop", "a dropped connection gets no answer: give a status or drop")
        if len(self._rules) >= self._max_rules:
            raise MatrixError(
                400, Codes.LIMIT_EXCEEDED,
                f"At most {self._max_rules} fault rules at once: remove or clear some first",
            )
        self._last_id += 1
        rule = FaultRule(
            id=f"f{self._last_id}", method=method if method == "*" else method.upper(),
            pattern=pattern, user=user, status=status, errcode=errcode, error=error,
            retry_after_ms=retry_after_ms, delay_ms=delay_ms, drop=drop, times=times,
            remaining=times,
        )
        self._rules.append(rule)
        self._with_user += user is not None
        return rule

    def list(self) -> list[FaultRule]:
        return list(self._rules)

    def remove(self, rule_id: str) -> None:
        for rule in self._rules:
            if rule.id == rule_id:
                self._forget(rule)
                return
        raise not_found(f"No fault rule {rule_id!r}")

    def clear(self) -> None:
        self._rules = []
        self._with_user = 0

    def match(self, method: str, raw_path: str, user: str | None) -> FaultRule | None:
        """The rule that takes this request (``raw_path``: as sent, percent-encoded), counted
        as used; None when no rule matches."""
        for rule in self._rules:
            if rule.applies_to(method, raw_path, user):
                rule.matched += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self._forget(rule)
                return rule
        return None

    def _forget(self, rule: FaultRule) -> None:
        self._rules.remove(rule)
        self._with_user -= rule.user is not None
