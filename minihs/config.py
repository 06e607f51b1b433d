"""Typed configuration, loaded from YAML.

Every key has a default here, and every key is documented in ``config.sample.yaml``. A bad file
raises :class:`ConfigError` naming the file and the dotted key, which the CLI prints as one line.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


SYNCHRONOUS_LEVELS = ("off", "normal", "full", "extra")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
SUPPORTED_ROOM_VERSIONS = ("10", "11", "12")
REGISTRATION_MODES = ("open", "closed", "token")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
PASSWORD_ALGORITHMS = ("argon2id", "scrypt")
MAX_SERVER_NAME_LENGTH = 128


class ConfigError(Exception):
    """A configuration problem, already phrased for the one-line message the CLI prints."""


def _require_between(key: str, value: float, low: float, high: float) -> None:
    """The check most ``validate`` methods make: ``low <= value <= high``, else the message."""
    if not low <= value <= high:
        raise ValueError(f"{key}: must be between {low} and {high}")


@dataclass
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 8008

    def validate(self) -> None:
        _require_between("port", self.port, 0, 65535)


@dataclass
class DatabaseConfig:
    path: str = "minihs.db"
    synchronous: str = "normal"

    def validate(self) -> None:
        if self.synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"synchronous: must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
        if not self.path:
            raise ValueError("path: must not be empty")


@dataclass
class RegistrationConfig:
    enabled: bool = True
    # open: anyone; token: a registration token from `tokens` is required; closed: nobody.
    mode: str = "open"
    tokens: list[str] = field(default_factory=list)
    # Enables Synapse-compatible POST /_synapse/admin/v1/register when set.
    shared_secret: str = ""

    def validate(self) -> None:
        if self.mode not in REGISTRATION_MODES:
            raise ValueError(f"mode: must be one of {', '.join(REGISTRATION_MODES)}")
        if self.mode == "token" and not self.tokens:
            raise ValueError("tokens: mode 'token' needs at least one token")


@dataclass
class PasswordHashingConfig:
    # How new passwords are hashed. Stored hashes of either kind verify whatever is set here.
    algorithm: str = "argon2id"
    # OWASP's minimum for argon2id is 19 MiB and 2 passes, which it rates equal to bcrypt 10.
    # Synapse's bcrypt 12 is four times bcrypt 10's work, so the default is four times the
    # memory: 76 MiB, 2 passes, in 2 lanes (one per core): about 0.12 s a hash here.
    argon2_memory_kib: int = 77824
    argon2_time_cost: int = 2
    argon2_parallelism: int = 2
    # scrypt (algorithm: scrypt): N = 2**log2_n, block size r, p = 1; 17 is OWASP's minimum.
    scrypt_log2_n: int = 17
    scrypt_r: int = 8

    def validate(self) -> None:
        if self.algorithm not in PASSWORD_ALGORITHMS:
            raise ValueError(f"algorithm: must be one of {', '.join(PASSWORD_ALGORITHMS)}")
        _require_between("argon2_parallelism", self.argon2_parallelism, 1, 16)
        if not 8 * self.argon2_parallelism <= self.argon2_memory_kib <= 4 * 1024 * 1024:
            raise ValueError(
                "argon2_memory_kib: must be between 8 * argon2_parallelism and 4194304 (4 GiB)"
            )
        _require_between("argon2_time_cost", self.argon2_time_cost, 1, 100)
        _require_between("scrypt_log2_n", self.scrypt_log2_n, 1, 20)
        _require_between("scrypt_r", self.scrypt_r, 1, 32)


@dataclass
class LimitsConfig:
    max_request_body_bytes: int = 1_048_576
    # Longest request line (method, URL, version) and longest single header line.
    max_header_bytes: int = 8190
    max_json_depth: int = 64
    # A connection with no complete request for this long is closed: idle keep-alive
    # connections, and clients that trickle their headers in one byte at a time.
    idle_timeout_seconds: float = 30.0

    def validate(self) -> None:
        if self.max_request_body_bytes < 1024:
            raise ValueError("max_request_body_bytes: must be at least 1024")
        _require_between("max_header_bytes", self.max_header_bytes, 1024, 1_048_576)
        _require_between("max_json_depth", self.max_json_depth, 2, 512)
        if not 0 < self.idle_timeout_seconds <= 3600:
            raise ValueError("idle_timeout_seconds: must be greater than 0 and at most 3600")


@dataclass
class RateLimit:
    """A token bucket: ``per_second`` refill, ``burst`` capacity. ``enabled: false`` turns it off."""

    enabled: bool = True
    per_second: float = 1.0
    burst: int = 10

    def validate(self) -> None:
        if self.per_second <= 0:
            raise ValueError("per_second: must be greater than 0")
        if self.burst < 1:
            raise ValueError("burst: must be at least 1")


@dataclass
class RateLimitsConfig:
    login_per_address: RateLimit = field(default_factory=lambda: RateLimit(True, 0.5, 10))
    login_per_user: RateLimit = field(default_factory=lambda: RateLimit(True, 0.5, 10))
    registration_per_address: RateLimit = field(default_factory=lambda: RateLimit(True, 0.2, 10))
    joins_per_user: RateLimit = field(default_factory=lambda: RateLimit(True, 2.0, 20))
    mutual_rooms_per_user: RateLimit = field(default_factory=lambda: RateLimit(True, 10.0, 50))


@dataclass
class RoomsConfig:
    default_room_version: str = "12"

    def validate(self) -> None:
        if self.default_room_version not in SUPPORTED_ROOM_VERSIONS:
            raise ValueError(
                f"default_room_version: must be one of {', '.join(SUPPORTED_ROOM_VERSIONS)}"
            )


@dataclass
class MutualRoomsConfig:
    page_size: int = 100
    # How long a `next_batch` token stays valid. The spec asks for at least 10 minutes.
    token_lifetime_seconds: int = 3600

    def validate(self) -> None:
        _require_between("page_size", self.page_size, 1, 10_000)
        if self.token_lifetime_seconds < 600:
            raise ValueError("token_lifetime_seconds: must be at least 600 (spec: 10 minutes)")


@dataclass
class DeterministicConfig:
    # Non-empty: every ID minihs mints (room IDs, device IDs, access tokens, UIA sessions, sync
    # token epochs) comes from this seed, and the server clock starts frozen at start_time_ms,
    # so two runs of the same test give the same bytes. Empty: random IDs, the real clock.
    seed: str = ""
    # Where the frozen clock starts in deterministic mode (default 2026-01-01T00:00:00Z).
    start_time_ms: int = 1_767_225_600_000

    def validate(self) -> None:
        # Up to the last millisecond of the year 9999.
        _require_between("start_time_ms", self.start_time_ms, 0, 253_402_300_799_999)


@dataclass
class RequestLogConfig:
    # Record every answered request for the admin API's request log (GET /_minihs/admin/requests).
    enabled: bool = False
    # The newest this many requests are kept; older ones are forgotten.
    size: int = 10_000
    # The newest this many requests also keep their request and response bodies...
    bodies_kept: int = 1_000
    # ...each cut to this many bytes.
    max_body_bytes: int = 8_192

    def validate(self) -> None:
        _require_between("size", self.size, 1, 10_000_000)
        if not 0 <= self.bodies_kept <= self.size:
            raise ValueError("bodies_kept: must be between 0 and size")
        _require_between("max_body_bytes", self.max_body_bytes, 0, 1_048_576)


@dataclass
class Config:
    server_name: str = "localhost"
    public_baseurl: str = ""
    listen: ListenConfig = field(default_factory=ListenConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    password_hashing: PasswordHashingConfig = field(default_factory=PasswordHashingConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    rate_limits: RateLimitsConfig = field(default_factory=RateLimitsConfig)
    rooms: RoomsConfig = field(default_factory=RoomsConfig)
    mutual_rooms: MutualRoomsConfig = field(default_factory=MutualRoomsConfig)
    # Spec v1.19 still allows `?access_token=`; matrix-nio sends it that way.
    allow_access_token_in_query: bool = True
    # Random per process when empty: pagination tokens then do not survive a restart.
    token_signing_key: str = ""
    # The admin API under /_minihs/ (reset, scenarios, snapshots, clock, faults, request log,
    # the inspector page) for test harnesses; only ever answered on loopback.
    enable_admin_api: bool = False
    # The older name of enable_admin_api, from when the API was the reset alone; still honoured.
    enable_admin_reset: bool = False
    deterministic: DeterministicConfig = field(default_factory=DeterministicConfig)
    request_log: RequestLogConfig = field(default_factory=RequestLogConfig)
    access_log: bool = True
    log_level: str = "info"
    # auto: uvloop when it is installed (it is a dependency on Linux and macOS), else asyncio's.
    event_loop: str = "auto"

    @property
    def admin_api_enabled(self) -> bool:
        return self.enable_admin_api or self.enable_admin_reset

    def validate(self) -> None:
        from minihs.spec.ids import is_valid_server_name

        if not is_valid_server_name(self.server_name):
            raise ValueError(f"server_name: {self.server_name!r} is not a valid server name")
        if len(self.server_name) > MAX_SERVER_NAME_LENGTH:
            # Room IDs of versions 10 and 11 contain it, and a mutual-rooms pagination token
            # carries a room ID within the 255 characters the spec allows a token.
            raise ValueError(f"server_name: at most {MAX_SERVER_NAME_LENGTH} characters")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level: must be one of {', '.join(LOG_LEVELS)}")
        if self.event_loop not in EVENT_LOOPS:
            raise ValueError(f"event_loop: must be one of {', '.join(EVENT_LOOPS)}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


# The only values read as something other than what YAML made of them, each because a user
# writing it means the obvious thing: `default_room_version: 11` is the string "11" (YAML reads a
# number), and `log_level: INFO` is "info". Nothing else is coerced: `port: "8008"` stays an error.
def _room_version_as_string(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _lowercase(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


_LENIENT_KEYS = {
    "rooms.default_room_version": _room_version_as_string,
    "log_level": _lowercase,
}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check one YAML value against its declared type; raise ConfigError with the dotted key."""
    if key in _LENIENT_KEYS:
        value = _LENIENT_KEYS[key](value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: must be a mapping")
        return _build(tp, value, key + ".")
    if typing.get_origin(tp) is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: must be {_type_name(tp)}")
        return [_coerce(item, item_type, f"{key}[{i}]") for i, item in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # bool is an int subclass in Python; YAML `port: yes` must not become port 1.
    if not isinstance(value, tp) or (tp is not bool and isinstance(value, bool)):
        raise ConfigError(f"{key}: must be {_type_name(tp)}, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(_unknown_key_message(prefix, key, names))
    values = {key: _coerce(value, hints[key], prefix + key) for key, value in data.items()}
    obj = cls(**values)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as exc:
            raise ConfigError(f"{prefix}{exc}") from None
    return obj


def _unknown_key_message(prefix: str, key: Any, names: set[str]) -> str:
    # repr() for odd keys keeps the message on one line ("a\nb" is a valid YAML key).
    shown = key if isinstance(key, str) and key.isprintable() else repr(key)
    message = f"unknown key '{prefix}{shown}'"
    if isinstance(key, str):
        nearest = difflib.get_close_matches(key, sorted(names), n=1)
        if nearest:
            message += f"; did you mean '{prefix}{nearest[0]}'?"
    return message


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` laid over ``base``, section by section (a section given replaces only the
    keys it names)."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def config_from_dict(data: dict[str, Any] | None, base: Config | None = None) -> Config:
    """Build a Config from a mapping shaped like the YAML file. Keys it leaves out keep their
    value in ``base`` (the built-in defaults when None)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping")
    if base is not None:
        # Unknown or badly typed keys can only come from `data`: every key of `base` is valid.
        data = _merge(dataclasses.asdict(base), data)
    return _build(Config, data)


def load_config(path: str | Path, base: Config | None = None) -> Config:
    """Read and check a YAML config file; keys it leaves out keep their value in ``base`` (the
    built-in defaults when None). Every failure is a ConfigError naming the file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file: {exc}") from None
    try:
        data = _parse_yaml(text)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    try:
        return config_from_dict(data, base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _parse_yaml(text: str) -> Any:
    """YAML's safe subset, refusing a key given twice in one mapping (plain YAML keeps the last
    one silently, so a second `listen:` section would quietly drop the first one's port)."""
    import yaml  # here, not at the top: a server started without a file never needs it

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _refuse_duplicate_keys(node, "", set())
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"YAML syntax error{at}: {problem}") from None
    finally:
        loader.dispose()


def _refuse_duplicate_keys(node: Any, prefix: str, seen: set[int]) -> None:
    import yaml

    if id(node) in seen:  # an alias of a node already checked (or of itself)
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in first_line:
                    raise ConfigError(
                        f"duplicate key '{prefix}{key}' at line {line} "
                        f"(first given at line {first_line[key]}): give each key once"
                    )
                first_line[key] = line
                _refuse_duplicate_keys(value_node, f"{prefix}{key}.", seen)
            else:
                _refuse_duplicate_keys(value_node, prefix, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, f"{prefix.rstrip('.')}[{index}].", seen)


# The test-fixture profile: what a server started by someone else's test suite wants. In-memory
# database, the cheapest password hashing, no rate limits, no access log, the admin API and
# the request log on. Shared by ``python -m minihs --testing`` and ``minihs.testing.MinihsServer``; both
# lay what the user gives over it (a config file or overrides), so the order is always built-in
# defaults < testing profile < the user's file or dict < command-line flags.

# argon2id at its smallest: 8 KiB, one pass, one lane (microseconds, not a tenth of a second).
TEST_PASSWORD_HASHING = PasswordHashingConfig(
    algorithm="argon2id", argon2_memory_kib=8, argon2_time_cost=1, argon2_parallelism=1
)


def apply_testing_profile(config: Config) -> Config:
    """A copy of ``config`` with the test-fixture defaults applied."""
    config = copy.deepcopy(config)
    config.database = dataclasses.replace(config.database, path=":memory:")
    config.password_hashing = copy.copy(TEST_PASSWORD_HASHING)
    for limit in dataclasses.fields(config.rate_limits):
        current: RateLimit = getattr(config.rate_limits, limit.name)
        setattr(config.rate_limits, limit.name, dataclasses.replace(current, enabled=False))
    config.access_log = False
    config.enable_admin_api = True
    config.request_log = dataclasses.replace(config.request_log, enabled=True)
    return config
