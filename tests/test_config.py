"""Configuration: YAML loaded into typed objects, every key documented in config.sample.yaml,
and every kind of bad file reported as one ConfigError naming the file and the key."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from minihs.config import Config, ConfigError, RateLimit, config_from_dict, load_config

SAMPLE = Path(__file__).resolve().parent.parent / "config.sample.yaml"


def _fields(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every key of a config object as (dotted key, default value), sections included."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        yield prefix + f.name, value
        if dataclasses.is_dataclass(value):
            yield from _fields(value, prefix + f.name + ".")


def _key_lines(node: yaml.Node, prefix: str = "") -> Iterator[tuple[str, int]]:
    """Every key of a YAML mapping as (dotted key, 0-based line of the key)."""
    assert isinstance(node, yaml.MappingNode)
    for key_node, value_node in node.value:
        key = prefix + key_node.value
        yield key, key_node.start_mark.line
        if isinstance(value_node, yaml.MappingNode):
            yield from _key_lines(value_node, key + ".")


def _documentation(lines: list[str], index: int) -> str:
    """The comment on a key's own line plus the block of comment lines right above it."""
    own = lines[index]
    parts = [own.split("#", 1)[1]] if "#" in own else []
    above = index - 1
    while above >= 0 and lines[above].lstrip().startswith("#"):
        parts.insert(0, lines[above].lstrip()[1:])
        above -= 1
    return " ".join(part.strip() for part in parts)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- config.sample.yaml -----------------------------------------------------------------------


def test_sample_config_loads():
    config = load_config(SAMPLE)
    assert isinstance(config, Config)


def test_sample_config_names_every_config_key():
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    missing = []
    for key, _default in _fields(Config()):
        node: Any = data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                missing.append(key)
                break
            node = node[part]
    assert missing == []


def test_sample_config_documents_every_key_with_a_comment():
    text = SAMPLE.read_text(encoding="utf-8")
    lines = text.splitlines()
    undocumented = [
        key for key, line in _key_lines(yaml.compose(text)) if not _documentation(lines, line)
    ]
    assert undocumented == []


def test_sample_config_states_the_default_of_every_key():
    text = SAMPLE.read_text(encoding="utf-8")
    lines = text.splitlines()
    key_line = dict(_key_lines(yaml.compose(text)))
    wrong = []
    for key, default in _fields(Config()):
        if dataclasses.is_dataclass(default):
            continue
        expected = f"default: {json.dumps(default)}"
        if expected.lower() not in _documentation(lines, key_line[key]).lower():
            wrong.append(f"{key} (expected '{expected}')")
    assert wrong == []


def test_sample_config_is_the_development_profile():
    config = load_config(SAMPLE)
    assert config.server_name == "localhost"
    assert config.listen.port == 8008
    assert config.database.path == "minihs.db"
    assert config.registration.enabled is True
    assert config.registration.mode == "open"


def test_sample_config_rate_limits_are_more_generous_than_the_defaults():
    sample = load_config(SAMPLE).rate_limits
    defaults = Config().rate_limits
    for f in dataclasses.fields(defaults):
        mine, default = getattr(sample, f.name), getattr(defaults, f.name)
        if not mine.enabled:
            continue
        assert mine.per_second > default.per_second, f.name
        assert mine.burst > default.burst, f.name


# --- defaults and well-formed files -----------------------------------------------------------


def test_defaults_match_the_issue():
    config = Config()
    assert config.server_name == "localhost"
    assert (config.listen.host, config.listen.port) == ("127.0.0.1", 8008)
    assert config.database.path == "minihs.db"
    assert config.database.synchronous == "normal"
    assert config.registration.enabled is True
    assert config.allow_access_token_in_query is True
    assert config.log_level == "info"


def test_missing_keys_keep_their_defaults(tmp_path):
    config = load_config(write(tmp_path, "listen:\n  port: 9000\n"))
    assert config.listen.port == 9000
    assert config.listen.host == "127.0.0.1"
    assert config.server_name == "localhost"


def test_empty_file_means_all_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == Config()


def test_yaml_values_become_typed_objects(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "server_name: example.org\n"
            "database: {path: x.db, synchronous: full}\n"
            "registration: {enabled: false}\n"
            "password_hashing: {scrypt_log2_n: 12, scrypt_r: 4}\n"
            "limits: {max_request_body_bytes: 4096}\n"
            "allow_access_token_in_query: false\n"
            "log_level: debug\n",
        )
    )
    assert config.server_name == "example.org"
    assert (config.database.path, config.database.synchronous) == ("x.db", "full")
    assert config.registration.enabled is False
    assert (config.password_hashing.scrypt_log2_n, config.password_hashing.scrypt_r) == (12, 4)
    assert config.limits.max_request_body_bytes == 4096
    assert config.allow_access_token_in_query is False
    assert config.log_level == "debug"


def test_an_integer_is_accepted_where_a_number_is_expected():
    config = config_from_dict({"rate_limits": {"login_per_user": {"per_second": 3}}})
    assert config.rate_limits.login_per_user.per_second == 3.0
    assert isinstance(config.rate_limits.login_per_user.per_second, float)


# --- bad files: one ConfigError naming the file and the key -----------------------------------


def test_unreadable_file_names_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(missing) in str(info.value)


def test_file_that_is_not_utf8_is_reported_as_unreadable(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"server_name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_yaml_syntax_error_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, "listen:\n  port: [8008\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: YAML syntax error")
    assert "line" in message


def test_unknown_key_is_named_with_its_section_and_the_nearest_valid_key(tmp_path):
    path = write(tmp_path, "listen:\n  prot: 8008\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: unknown key 'listen.prot'; did you mean 'listen.port'?"


def test_unknown_top_level_key_is_named_with_the_nearest_valid_key(tmp_path):
    path = write(tmp_path, "servername: example.org\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: unknown key 'servername'; did you mean 'server_name'?"


def test_unknown_key_like_no_valid_key_suggests_nothing(tmp_path):
    path = write(tmp_path, "frobnicate: 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: unknown key 'frobnicate'"


@pytest.mark.parametrize(
    "text, key, line, first",
    [
        ("listen:\n  port: 8448\nserver_name: a.test\nlisten:\n  host: 0.0.0.0\n", "listen", 4, 1),
        ("listen:\n  port: 8448\n  port: 8008\n", "listen.port", 3, 2),
        (
            "rate_limits:\n  joins_per_user:\n    burst: 1\n    burst: 2\n",
            "rate_limits.joins_per_user.burst", 4, 3,
        ),
    ],
    ids=["top-level", "in-a-section", "two-levels-down"],
)
def test_a_key_given_twice_is_refused_naming_the_key_and_both_lines(
    tmp_path, text, key, line, first
):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: duplicate key '{key}' at line {line} (first given at line {first}): "
        "give each key once"
    )


def test_the_same_key_in_two_sections_is_not_a_duplicate(tmp_path):
    config = load_config(write(tmp_path, "listen:\n  port: 1\ndatabase:\n  path: port\n"))
    assert (config.listen.port, config.database.path) == (1, "port")


@pytest.mark.parametrize("written, version", [("11", "11"), ("'11'", "11"), ("10", "10")])
def test_a_room_version_may_be_written_as_a_number(tmp_path, written, version):
    config = load_config(write(tmp_path, f"rooms:\n  default_room_version: {written}\n"))
    assert config.rooms.default_room_version == version


def test_an_unsupported_room_version_number_is_still_refused(tmp_path):
    path = write(tmp_path, "rooms:\n  default_room_version: 9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: rooms.default_room_version: must be one of")


@pytest.mark.parametrize("written", ["INFO", "Info", "info"])
def test_the_log_level_is_case_insensitive(tmp_path, written):
    assert load_config(write(tmp_path, f"log_level: {written}\n")).log_level == "info"


@pytest.mark.parametrize(
    "text, key",
    [("listen:\n  port: '8008'\n", "listen.port"), ("server_name: 12\n", "server_name")],
)
def test_no_other_value_is_coerced(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {key}: must be")


def test_keys_a_file_leaves_out_keep_the_base_given(tmp_path):
    base = Config(server_name="base.test", access_log=False)
    config = load_config(write(tmp_path, "listen:\n  port: 1\naccess_log: true\n"), base=base)
    assert config.server_name == "base.test"  # from the base
    assert config.access_log is True  # the file wins over the base
    assert config.listen.port == 1
    assert config.listen.host == base.listen.host  # a section replaces only the keys it names


@pytest.mark.parametrize(
    "text, key",
    [
        ("listen:\n  port: eighty\n", "listen.port"),
        ("listen:\n  port: yes\n", "listen.port"),  # a YAML boolean is not port 1
        ("listen:\n  port: 80.5\n", "listen.port"),
        ("registration:\n  enabled: 1\n", "registration.enabled"),
        ("registration:\n  tokens: abc\n", "registration.tokens"),
        ("registration:\n  tokens: [1]\n", "registration.tokens[0]"),
        ("server_name: 42\n", "server_name"),
        ("server_name:\n", "server_name"),
        ("listen: 8008\n", "listen"),
        ("rate_limits:\n  login_per_user:\n    burst: many\n", "rate_limits.login_per_user.burst"),
    ],
)
def test_wrong_type_names_the_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {key}: must be")


@pytest.mark.parametrize(
    "text, key",
    [
        ("listen:\n  port: 70000\n", "listen.port"),
        ("database:\n  synchronous: sometimes\n", "database.synchronous"),
        ("database:\n  path: ''\n", "database.path"),
        ("password_hashing:\n  scrypt_log2_n: 40\n", "password_hashing.scrypt_log2_n"),
        ("password_hashing:\n  algorithm: md5\n", "password_hashing.algorithm"),
        ("password_hashing:\n  argon2_memory_kib: 4\n", "password_hashing.argon2_memory_kib"),
        ("password_hashing:\n  argon2_time_cost: 0\n", "password_hashing.argon2_time_cost"),
        ("password_hashing:\n  argon2_parallelism: 0\n", "password_hashing.argon2_parallelism"),
        ("event_loop: twisted\n", "event_loop"),
        ("limits:\n  max_request_body_bytes: 10\n", "limits.max_request_body_bytes"),
        ("rate_limits:\n  joins_per_user:\n    per_second: 0\n", "rate_limits.joins_per_user.per_second"),
        ("registration:\n  mode: token\n", "registration.tokens"),
        ("server_name: 'not a server name'\n", "server_name"),
        ("log_level: chatty\n", "log_level"),
    ],
)
def test_bad_value_names_the_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {key}: ")


def test_top_level_that_is_not_a_mapping_is_rejected(tmp_path):
    path = write(tmp_path, "- server_name\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")


def test_config_errors_are_one_line(tmp_path):
    for text in (
        "listen:\n  port: [8008\n",
        "listen:\n  port: 'a\nb'\n",
        '"a\\nb": 1\n',
        "a: 1\n",
    ):
        with pytest.raises(ConfigError) as info:
            load_config(write(tmp_path, text))
        assert "\n" not in str(info.value)


# --- README.md's configuration table ------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def _readme_table() -> dict[str, str]:
    """The table under README's "Configuration": each key it names (dotted) -> its default as
    the table shows it. A row may name several keys of one section (`listen.host`, `port`) and
    give their defaults in the same order; a rate limit's row is the limit as a whole."""
    section = README.read_text(encoding="utf-8").split("\n## Configuration\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    table = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        key_cell, default_cell = [cell.strip() for cell in line.strip("|").split("|")][:2]
        keys = re.findall(r"`([a-z0-9_.]+)`", key_cell)
        prefix = keys[0].rpartition(".")[0]
        keys = [key if "." in key or not prefix else f"{prefix}.{key}" for key in keys]
        defaults = re.findall(r"`([^`]*)`", default_cell) or [default_cell]
        if len(keys) > 1:
            assert len(defaults) == len(keys), line
        table.update(zip(keys, defaults if len(keys) > 1 else [default_cell.strip("`")]))
    return table


def _as_in_the_table(value: Any) -> str:
    if isinstance(value, RateLimit):
        return f"{value.per_second:g}/s, burst {value.burst}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value:
        return value
    return json.dumps(value)


def _documented_keys() -> dict[str, Any]:
    """Every key the table should name, with its default: the leaves, and each rate limit."""
    keys = {}
    for key, default in _fields(Config()):
        if key.startswith("rate_limits.") and key.count(".") == 2:
            continue  # enabled, per_second, burst: described once below the table
        if not dataclasses.is_dataclass(default) or isinstance(default, RateLimit):
            keys[key] = default
    return keys


def test_the_readmes_configuration_table_names_every_key_and_no_other():
    assert sorted(_readme_table()) == sorted(_documented_keys())


def test_the_readmes_configuration_table_gives_every_default_as_the_code_has_it():
    table = _readme_table()
    wrong = {key: (table[key], _as_in_the_table(default))
             for key, default in _documented_keys().items()
             if key in table and table[key] != _as_in_the_table(default)}
    assert wrong == {}
