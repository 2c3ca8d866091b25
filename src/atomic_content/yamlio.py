"""Safe YAML reading with positions — the only module that imports ruamel.yaml.

Contract of :func:`read_yaml_file`:

* never raises for bad input and never executes anything: every problem (I/O, size, encoding,
  binary data, syntax, duplicate keys, tags, alias bombs, a symlink that leaves the content root)
  is returned as a :class:`~atomic_content.errors.Diagnostic` with a 1-based line and column;
* on success returns a :class:`YamlDocument` whose ``data`` is plain Python (dict, list, str,
  int, float, bool, None, datetime.date/datetime) and which can map any location inside the
  data back to a line and column (:meth:`YamlDocument.position`).

YAML 1.2 rules apply (``yes`` is a string, not a boolean). Only the standard tags are accepted;
``!!python/...`` and any custom tag are refused. Anchors and aliases are allowed, but a document
whose aliases would expand past :data:`MAX_EXPANDED_NODES` nodes is refused before anything walks
it ("billion laughs").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .errors import Diagnostic, Severity

MAX_FILE_BYTES = 1024 * 1024
"""Content files are small by design; a larger file is almost certainly a mistake."""

MAX_EXPANDED_NODES = 100_000
"""Upper bound of nodes after alias expansion; the demo's largest file has under 200."""

_STANDARD_TAGS = frozenset(
    "tag:yaml.org,2002:" + name
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)

Loc = tuple[str | int, ...]


def _error(path: str, line: int, col: int, code: str, message: str, hint: str) -> Diagnostic:
    return Diagnostic(path, line, col, Severity.ERROR, code, message, hint)


@dataclass
class YamlDocument:
    """A parsed file: plain data plus the ruamel tree that knows where every node came from."""

    path: str
    data: Any
    text: str
    _parsed_tree: Any = None
    sha256: str = ""

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def _tree(self) -> Any:
        # Positions need ruamel's round-trip tree, which costs ~60% more to build than plain
        # data; clean files never ask for a position, so it is built on first use only.
        if self._parsed_tree is None:
            yaml = YAML(typ="rt")
            self._parsed_tree = yaml.load(self.text)
        return self._parsed_tree

    def _top_level_position(self, loc: Loc, key: bool) -> tuple[int, int] | None:
        """Position of a top-level key with a scalar value, found by scanning the text.

        Most diagnostics point at such keys (``slot``, ``priority``, ``owner`` ...); scanning
        spares building the round-trip tree. Anything less plain returns None (the tree
        decides), so the answer is always the one the tree would give.
        """
        if len(loc) != 1 or not isinstance(loc[0], str) or not isinstance(self.data, dict):
            return None
        name = loc[0]
        value = self.data.get(name)
        if name not in self.data:
            # A missing key: the tree answers with the mapping itself, i.e. its first key,
            # the first line that is neither blank, a comment nor a document marker.
            for number, line in enumerate(self.text.splitlines(), start=1):
                if line.strip() and not line.startswith(("#", "---", "%", " ", "\t")):
                    return (number, 1) if not line.startswith(("{", "[", "?", "&", "!")) else None
            return None
        if isinstance(value, dict | list):
            return None
        prefix = f"{name}:"
        for number, line in enumerate(self.text.splitlines(), start=1):
            if line.startswith(prefix):
                if key:
                    return number, 1
                rest = line[len(prefix) :]
                stripped = rest.lstrip(" ")
                if not stripped or stripped.startswith("#") or not rest.startswith(" "):
                    return None
                return number, len(prefix) + (len(rest) - len(stripped)) + 1
        return None

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the node at ``loc``.

        With ``key=True`` the position of the mapping *key* of the last element is returned
        (what an editor should look at for an unknown field). When ``loc`` does not exist in
        the document (a missing field), the deepest existing parent is returned, so the
        position is always inside the file.
        """
        quick = self._top_level_position(loc, key)
        if quick is not None:
            return quick
        node = self._tree
        line, col = 1, 1
        if isinstance(node, CommentedMap | CommentedSeq) and node.lc.line is not None:
            line, col = node.lc.line + 1, node.lc.col + 1
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            if isinstance(node, CommentedMap) and part in node:
                k_line, k_col = node.lc.key(part)
                if last and key:
                    return k_line + 1, k_col + 1
                v_line, v_col = node.lc.value(part)
                child = node[part]
                if isinstance(child, CommentedMap | CommentedSeq) and not last:
                    line, col = v_line + 1, v_col + 1
                else:
                    line, col = v_line + 1, v_col + 1
                    if isinstance(child, CommentedMap) and child.lc.line is not None:
                        # A block mapping value starts on the next line; point at its key.
                        line, col = child.lc.line + 1, child.lc.col + 1
                node = child
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
                i_line, i_col = node.lc.item(part)
                line, col = i_line + 1, i_col + 1
                node = node[part]
            else:
                break
        return line, col


def _decode(raw: bytes, path: str) -> tuple[str | None, Diagnostic | None]:
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        line = raw.count(b"\n", 0, offset) + 1
        return None, _error(
            path,
            line,
            1,
            "yaml.binary",
            "this file contains binary data (a NUL byte), not YAML text",
            "content files must be UTF-8 text; remove the file or save it as plain text",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, _error(
            path,
            line,
            col,
            "yaml.encoding",
            f"invalid UTF-8 byte 0x{raw[exc.start]:02x}",
            "save the file as UTF-8 (most editors: 'Save with encoding' -> UTF-8)",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _check_nodes(data: Any, path: str, doc: YamlDocument) -> Diagnostic | None:
    """Refuse non-standard tags and alias bombs without expanding aliases."""
    sizes: dict[int, int] = {}
    stack: list[tuple[Any, Loc]] = [(data, ())]
    # Each distinct object is visited once; aliases reuse objects, so a billion-laughs document
    # is small here. The expanded size is the sum over references of each target's size, which
    # the memo computes without expanding.
    expanded = _expanded_size(data, sizes)
    if expanded > MAX_EXPANDED_NODES:
        return _error(
            path,
            1,
            1,
            "yaml.too_many_nodes",
            f"aliases in this file expand to more than {MAX_EXPANDED_NODES:,} values",
            "remove the anchors (&name) and aliases (*name) that repeat each other",
        )
    seen: set[int] = set()
    while stack:
        node, loc = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        tag = getattr(node, "tag", None)
        tag_value = getattr(tag, "value", tag) if tag is not None else None
        bad_tag = isinstance(node, TaggedScalar) or (
            isinstance(tag_value, str) and tag_value not in _STANDARD_TAGS
        )
        if isinstance(node, bytes):
            bad_tag, tag_value = True, "!!binary"
        if bad_tag:
            line, col = doc.position(loc)
            return _error(
                path,
                line,
                col,
                "yaml.tag_not_allowed",
                f"the YAML tag {tag_value!s} is not allowed",
                "remove the '!' tag; content files hold plain text, numbers, lists and mappings",
            )
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str | int | float | bool | dt.date) and key is not None:
                    line, col = doc.position(loc)
                    return _error(
                        path,
                        line,
                        col,
                        "yaml.complex_key",
                        "a mapping key must be plain text",
                        "write keys as simple words, e.g. `segments:`",
                    )
                stack.append((value, (*loc, str(key))))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                stack.append((value, (*loc, index)))
    return None


def _expanded_size(node: Any, sizes: dict[int, int]) -> int:
    """Number of values ``node`` stands for once every alias is expanded (memoized, iterative)."""
    if not isinstance(node, dict | list):
        return 1
    order: list[Any] = []
    stack = [node]
    visiting: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in visiting:
            continue
        visiting.add(id(current))
        order.append(current)
        children = current.values() if isinstance(current, dict) else current
        stack.extend(child for child in children if isinstance(child, dict | list))
    for current in reversed(order):
        children = current.values() if isinstance(current, dict) else current
        size = 1
        for child in children:
            size += sizes.get(id(child), 1) if isinstance(child, dict | list) else 1
            if size > MAX_EXPANDED_NODES:
                break
        sizes[id(current)] = min(size, MAX_EXPANDED_NODES + 1)
    return sizes[id(node)]


def _plain(node: Any) -> Any:
    """Convert ruamel's round-trip types into plain Python values."""
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(value) for value in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, dt.datetime):
        return dt.datetime.fromisoformat(node.isoformat())
    if isinstance(node, dt.date):
        return dt.date(node.year, node.month, node.day)
    if isinstance(node, str):
        return str(node)
    return node


def _marked_position(exc: MarkedYAMLError) -> tuple[int, int]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return 1, 1
    return mark.line + 1, mark.column + 1


def display_path(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` with POSIX separators, or as given when outside it."""
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def check_inside_root(path: Path, root: Path) -> Diagnostic | None:
    """A diagnostic when ``path`` (after following symlinks) lies outside ``root``."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return _error(
            display_path(path, root),
            0,
            0,
            "io.broken_link",
            "this path is a link that points nowhere (or loops)",
            "remove the link or point it at a file inside the content folder",
        )
    if not real.is_relative_to(root.resolve()):
        return _error(
            display_path(path, root),
            0,
            0,
            "io.outside_root",
            "this path is a link that points outside the content folder",
            "copy the file into the content folder instead of linking to it",
        )
    return None


def read_yaml_file(
    path: Path, root: Path | None = None
) -> tuple[YamlDocument | None, Diagnostic | None]:
    """Read one YAML file safely.

    Returns ``(document, None)`` on success and ``(None, diagnostic)`` otherwise; never raises
    for bad content. ``root`` (when given) is used for display paths and to refuse symlinks that
    leave it. An empty file yields a document whose data is ``None``.
    """
    shown = display_path(path, root)
    if root is not None and (problem := check_inside_root(path, root)) is not None:
        return None, problem
    if path.is_dir():
        return None, _error(
            shown,
            0,
            0,
            "io.is_directory",
            "expected a YAML file here but found a folder",
            "rename the folder or move its files to where they belong",
        )
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, _error(
                shown,
                0,
                0,
                "io.too_large",
                f"file is {size:,} bytes; content files may be at most {MAX_FILE_BYTES:,} bytes",
                "split the content into several small files (one atom per file)",
            )
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, _error(
            shown,
            0,
            0,
            "io.unreadable",
            f"cannot read this file: {exc.strerror or exc}",
            "check that the file exists and is readable",
        )
    digest = hashlib.sha256(raw).hexdigest()
    cached = _cache_get(digest, raw)
    if cached is not None:
        return YamlDocument(
            shown, cached, raw.decode("utf-8").removeprefix("\ufeff"), sha256=digest
        ), None
    document, problem = parse_yaml_text(raw, shown)
    if document is not None:
        _cache_put(digest, document.data)
    return document, problem


# -- parse cache ------------------------------------------------------------------------------
# Parsing is most of the cost of loading a large tree (ruamel.yaml is pure Python), and most
# files do not change between runs. Clean parses are kept as JSON keyed by the sha256 of the
# file's bytes, so a changed file can never hit a stale entry. JSON, not pickle: a cache file
# can at worst hold wrong *data*, which still goes through every validation; it cannot run code.

_CACHE_FORMAT = "yaml-v1"
_DATE_TAG = "\u0000date"
_DATETIME_TAG = "\u0000datetime"


def cache_dir() -> Path | None:
    """Where parsed files are cached: ``$ATOMIC_CACHE_DIR`` (``off`` disables it), else
    ``$XDG_CACHE_HOME/atomic-content`` or ``~/.cache/atomic-content``."""
    configured = os.environ.get("ATOMIC_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "false") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "atomic-content"


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dt.datetime):
        return {_DATETIME_TAG: value.isoformat()}
    if isinstance(value, dt.date):
        return {_DATE_TAG: value.isoformat()}
    return value


def _decode_hook(item: dict[str, Any]) -> Any:
    if len(item) == 1:
        if _DATE_TAG in item:
            return dt.date.fromisoformat(item[_DATE_TAG])
        if _DATETIME_TAG in item:
            return dt.datetime.fromisoformat(item[_DATETIME_TAG])
    return item


def _cache_path(digest: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / _CACHE_FORMAT / digest[:2] / f"{digest}.json"


def _cache_get(digest: str, raw: bytes) -> Any | None:
    path = _cache_path(digest)
    if path is None or b"\x00" in raw:
        return None
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text, object_hook=_decode_hook)
        raw.decode("utf-8")  # an entry exists only for valid UTF-8; be sure anyway
    except (OSError, ValueError):
        return None
    return data


def _cache_put(digest: str, data: Any) -> None:
    path = _cache_path(digest)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(_encode(data), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError):
        pass  # a cache that cannot be written only costs speed


def parse_yaml_text(raw: bytes | str, shown: str) -> tuple[YamlDocument | None, Diagnostic | None]:
    """Parse YAML from memory (bytes are decoded as UTF-8); same contract as read_yaml_file."""
    digest = hashlib.sha256(raw if isinstance(raw, bytes) else raw.encode("utf-8")).hexdigest()
    if isinstance(raw, bytes):
        text, problem = _decode(raw, shown)
        if problem is not None or text is None:
            return None, problem
    else:
        text = raw
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        return None, _error(
            shown,
            0,
            0,
            "io.too_large",
            f"text is larger than {MAX_FILE_BYTES:,} bytes",
            "split the content into several small files",
        )
    try:
        # Fast path: plain data from the safe loader. It refuses duplicate keys and unknown
        # tags like the round-trip loader; any error is re-reported by the slow path below,
        # which knows positions.
        fast = YAML(typ="safe", pure=True)
        fast.allow_duplicate_keys = False
        data = fast.load(text)
    except Exception:
        pass
    else:
        document = YamlDocument(shown, None, text, sha256=digest)
        problem = _check_nodes(data, shown, document)
        if problem is not None:
            return None, problem
        document.data = _plain(data)
        return document, None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
    except DuplicateKeyError as exc:
        line, col = _marked_position(exc)
        key = (exc.problem or "").split('"')
        name = key[1] if len(key) > 2 else ""
        return None, _error(
            shown,
            line,
            col,
            "yaml.duplicate_key",
            f"the key {name!r} appears twice in the same mapping" if name else str(exc.problem),
            "keep one of the two entries; YAML would otherwise silently drop one",
        )
    except MarkedYAMLError as exc:
        line, col = _marked_position(exc)
        problem_text = exc.problem or exc.context or "invalid YAML"
        hint = _syntax_hint(problem_text)
        if exc.context and exc.context_mark is not None and exc.problem:
            start = f"line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
            problem_text += f" ({exc.context.removeprefix('while ')} started at {start})"
            if "expected ',' or ']'" in exc.problem:
                hint = f"a [ list is not closed: add the missing ] to the list at {start}"
            elif "expected ',' or '}'" in exc.problem:
                hint = f"a {{ mapping is not closed: add the missing }} to the mapping at {start}"
        return None, _error(
            shown,
            line,
            col,
            "yaml.syntax",
            f"YAML syntax error: {problem_text}",
            hint,
        )
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        return None, _error(
            shown,
            1,
            1,
            "yaml.syntax",
            f"YAML syntax error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            "check indentation and quoting; paste the file into a YAML checker to locate it",
        )
    document = YamlDocument(shown, None, text, tree, sha256=digest)
    problem = _check_nodes(tree, shown, document)
    if problem is not None:
        return None, problem
    document.data = _plain(tree)
    return document, None


def _syntax_hint(problem: str) -> str:
    lowered = problem.lower()
    if "mapping values are not allowed" in lowered:
        return "a value that contains ': ' must be quoted, e.g. text: \"Hello: world\""
    if "found character '\\t'" in lowered or "tab" in lowered:
        return "YAML indentation uses spaces, not tabs"
    if "could not find expected ':'" in lowered:
        return "each line of a mapping needs `key: value`; check the line above for a missing colon"
    if "found undefined alias" in lowered:
        return "an alias (*name) must refer to an anchor (&name) defined earlier in the file"
    if "expected <block end>" in lowered or "indentation" in lowered:
        return "check the indentation: items of one mapping or list must line up"
    if "unclosed" in lowered or "end of stream" in lowered or "quoted scalar" in lowered:
        return "a quote or bracket is not closed; check the quotes on this line"
    return "check indentation and quoting around this position"
