"""A scenario's text as plain values, and the line of any key or item in it.

JSON is read by the strict JSON decoder the API uses (fast, and exactly JSON: a tab or ``1e3``
means what JSON says, not what YAML 1.1 would make of it); YAML by PyYAML's safe loader (its C
version when built). A key given twice in one mapping is refused in both, with its line: plain
YAML and JSON parsers keep the last one silently.

Lines are looked up only when something is wrong, so a good scenario pays nothing for them:
a JSON text is walked again to the failing key, a YAML text keeps its composed nodes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from json.decoder import scanstring
from typing import Any, Callable, Union

from minihs.spec.errors import Codes
from minihs.spec.json_codec import JsonRejected, loads_strict

Step = Union[str, int]
Path = tuple[Step, ...]

# A YAML alias is one node however often it is used: a few lines can name billions of values
# ("billion laughs"). Past this many values, once aliases are expanded, the text is refused.
MAX_EXPANDED_VALUES = 2_000_000


class Rejected(Exception):
    """What is wrong with a scenario, and where: ``path`` into the document (the line is found
    from it), or ``line`` directly for a syntax error."""

    def __init__(
        self, message: str, path: Path = (), errcode: str = Codes.BAD_JSON, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.errcode = errcode
        self.line = line


def dotted(path: Path) -> str:
    """``("rooms", "lobby", "members", "joined", 0)`` -> ``rooms.lobby.members.joined[0]``."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            shown = step if step.isprintable() and "." not in step else json.dumps(step)
            text += f".{shown}" if text else shown
    return text


@dataclass
class Document:
    """The values of a scenario, and where they came from. ``source`` names it in messages."""

    data: Any
    source: str
    _locate: Callable[[Path], int | None] = field(default=lambda path: None, repr=False)

    def line_of(self, path: Path) -> int | None:
        """The line of the key (or list item) at ``path``, or of the nearest one above it that
        exists; None for a document that did not come from text."""
        return self._locate(path)


def from_text(raw: str | bytes, source: str, syntax: str | None, max_depth: int) -> Document:
    """``syntax``: "json", "yaml", or None: JSON when the text starts with ``{``, else YAML."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(f"not UTF-8 text: {exc.reason}", errcode=Codes.NOT_JSON) from None
    else:
        text = raw
    if syntax == "json" or (syntax is None and text.lstrip().startswith("{")):
        # YAML would take broken JSON too, and read it as something else: "{" means JSON.
        return _from_json(text, source, max_depth)
    return _from_yaml(text, source, max_depth)


def syntax_of(file_name: str) -> str | None:
    """The syntax a scenario file's name promises: ".json" JSON, ".yaml"/".yml" YAML, else
    None (told from the text)."""
    suffix = file_name.rpartition(".")[2].lower() if "." in file_name else ""
    return {"json": "json", "yaml": "yaml", "yml": "yaml"}.get(suffix)


# --- JSON ------------------------------------------------------------------------------------


def _from_json(text: str, source: str, max_depth: int) -> Document:
    try:
        data = loads_strict(text.encode("utf-8", "surrogatepass"), max_depth)
    except JsonRejected as exc:
        duplicate = _json_duplicate(text)
        if duplicate is not None:
            path, line, first = duplicate
            raise Rejected(
                f"duplicate key '{dotted(path)}' (first given at line {first}): give each key once",
                line=line,
            ) from None
        raise Rejected(f"unusable JSON: {exc}") from None
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        reason = getattr(exc, "msg", None) or str(exc)
        raise Rejected(f"not JSON: {reason}", errcode=Codes.NOT_JSON, line=line) from None
    return Document(data, source, lambda path: _json_line(text, path))


def _json_members(text: str, pos: int, on_member: Callable[[Path, int], bool], path: Path) -> int:
    """Walk the JSON value at ``pos`` (known to be valid JSON), calling ``on_member(path,
    offset)`` for every key and array item under it; a True answer stops the walk. Returns the
    offset after the value, or -1 once stopped."""
    decoder = _DECODER
    pos = _skip_space(text, pos)
    opening = text[pos]
    if opening not in "{[":
        return decoder.raw_decode(text, pos)[1]
    closing = "}" if opening == "{" else "]"
    pos = _skip_space(text, pos + 1)
    index = 0
    while text[pos] != closing:
        start = pos
        if opening == "{":
            key, pos = scanstring(text, pos + 1)
            pos = _skip_space(text, pos) + 1  # the colon
            step: Step = key
        else:
            step = index
            index += 1
        if on_member(path + (step,), start):
            return -1
        pos = _json_members(text, pos, on_member, path + (step,))
        if pos < 0:
            return -1
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return pos + 1


_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _SPACE:
        pos += 1
    return pos


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _json_line(text: str, path: Path) -> int | None:
    best = [_skip_space(text, 0)]

    def on_member(at: Path, offset: int) -> bool:
        if at == path[: len(at)]:
            best[0] = offset
            return at == path
        return False

    _json_members(text, 0, on_member, ())
    return _line_at(text, best[0])


def _json_duplicate(text: str) -> tuple[Path, int, int] | None:
    """The first key given twice in one object: (its path, its line, the first one's line)."""
    seen: dict[Path, int] = {}
    found: list[tuple[Path, int, int]] = []

    def on_member(at: Path, offset: int) -> bool:
        if at in seen:
            found.append((at, _line_at(text, offset), _line_at(text, seen[at])))
            return True
        seen[at] = offset
        return False

    try:
        _json_members(text, 0, on_member, ())
    except (ValueError, IndexError, RecursionError):
        return None
    return found[0] if found else None


# --- YAML ------------------------------------------------------------------------------------


def _from_yaml(text: str, source: str, max_depth: int) -> Document:
    import yaml  # only a YAML scenario needs it

    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_yaml_nodes(node, max_depth)
            data = None if node is None else loader.construct_document(node)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise Rejected(
                f"YAML syntax error: {problem}", line=None if mark is None else mark.line + 1
            ) from None
        except RecursionError:
            raise Rejected(f"nested deeper than {max_depth} levels") from None
        except Rejected as rejected:
            if rejected.line is None:
                rejected.line = _yaml_line(node, rejected.path)
            raise
    finally:
        loader.dispose()
    return Document(data, source, lambda path: _yaml_line(node, path))


def _check_yaml_nodes(root: Any, max_depth: int) -> None:
    """Refuse duplicate keys, nesting deeper than ``max_depth``, and aliases that expand past
    :data:`MAX_EXPANDED_VALUES` values or into themselves."""
    import yaml

    mapping, merge = yaml.MappingNode, "tag:yaml.org,2002:merge"
    sizes: dict[int, int] = {}  # node -> values under it, aliases expanded
    open_nodes: set[int] = set()
    # Depth first, without paths (the path of a node at fault is found again, rarely).
    stack: list[tuple[Any, int, bool]] = [(root, 0, False)]
    while stack:
        node, depth, children_done = stack.pop()
        key = id(node)
        children = _yaml_children(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = size = 1 + sum(sizes[id(child)] for _, child in children)
            if size > MAX_EXPANDED_VALUES:
                raise Rejected(
                    f"more than {MAX_EXPANDED_VALUES} values once its aliases are expanded",
                    _yaml_path(root, node),
                )
            continue
        if key in sizes:
            continue  # an alias of a node already checked
        if key in open_nodes:
            raise Rejected("an alias refers to the node that contains it", _yaml_path(root, node))
        if depth > max_depth:
            raise Rejected(f"nested deeper than {max_depth} levels", _yaml_path(root, node))
        if isinstance(node, mapping):
            first: dict[str, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise Rejected(
                        "a key must be a plain value, not a list or mapping", _yaml_path(root, node)
                    )
                if key_node.value in first and key_node.tag != merge:
                    path = _yaml_path(root, node) + (key_node.value,)
                    raise Rejected(
                        f"duplicate key '{dotted(path)}' (first given at line "
                        f"{first[key_node.value]}): give each key once",
                        line=key_node.start_mark.line + 1,
                    )
                first[key_node.value] = key_node.start_mark.line + 1
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for _, child in children)


def _yaml_path(root: Any, target: Any) -> Path:
    """The path of ``target`` under ``root`` (the first way there; aliases give several)."""
    stack: list[tuple[Any, Path]] = [(root, ())]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend((child, path + (step,)) for step, child in reversed(_yaml_children(node)))
    return ()


def _yaml_children(node: Any) -> list[tuple[Step, Any]]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [(key_node.value, value) for key_node, value in node.value]
    if isinstance(node, yaml.SequenceNode):
        return list(enumerate(node.value))
    return []


def _yaml_line(root: Any, path: Path) -> int | None:
    import yaml

    if root is None:
        return None
    line = root.start_mark.line + 1
    node = root
    for step in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if key_node.value == str(step):
                    line, node = key_node.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line
