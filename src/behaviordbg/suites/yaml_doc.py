"""YAML files with a line for every key and item, and schema errors in plain words.

The suite loader (behaviordbg.suites) builds on this: every problem it finds must name the file and
the line, so the YAML is composed (not just loaded) to keep each node's position, and each JSON
Schema error is rewritten as a message and a fix a suite author can act on.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

import jsonschema
import yaml

from ..errors import SuiteError

MAX_FILE_BYTES = 5 * 1024 * 1024
_SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
_ID_HINT = "use lowercase letters, digits and _, starting with a letter (e.g. has_physical_body)"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_NODES = 50_000  # a shipped suite has under 200 nodes; 50,000 means an alias bomb
# libyaml when present: ~10x faster and closer to the YAML spec; same nodes, marks and errors
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[Any, ...]  # a location inside a YAML document: keys and list indices


def schema_path(kind: Literal["suite", "manifest"] = "suite") -> Path:
    """Where the published JSON Schema lives (editors and CI can point at it)."""
    return _SCHEMA_DIR / f"{kind}.schema.json"


@lru_cache(maxsize=2)
def _validator(kind: Literal["suite", "manifest"]) -> jsonschema.Draft202012Validator:
    schema = json.loads(schema_path(kind).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def closest(name: str, options: Sequence[str]) -> str | None:
    """The option a typo most likely meant: a unique prefix match first, else difflib's best."""
    prefixed = [o for o in options if o.startswith(name) or name.startswith(o)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def show_path(path: Path) -> str:
    """A path as shown in errors: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


@dataclass
class Doc:
    """One parsed YAML file: its data, the line of every key/item, and the problems found."""

    path: Path
    shown: str
    sha256: str = ""
    data: Any = None
    lines: dict[Path_, int] = field(default_factory=dict)
    errors: list[SuiteError] = field(default_factory=list)
    nodes: int = 0

    def err(self, loc: Path_ | None, message: str, hint: str = "") -> None:
        self.errors.append(SuiteError(self.shown, self.line(loc), message, hint))

    def line(self, loc: Path_ | None) -> int | None:
        """Line of `loc`, or of its nearest enclosing key/item that has one."""
        if loc is None:
            return None
        loc = tuple(loc)
        while loc not in self.lines and loc:
            loc = loc[:-1]
        return self.lines.get(loc)


def read_yaml(path: Path, what: str) -> Doc:
    """Read and parse one YAML file, mapping every key and list item to its line."""
    doc = Doc(path=path, shown=show_path(path))
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            doc.err(
                None,
                f"file is {size / 1e6:.1f} MB; {what} files are limited to 5 MB",
                f"split it into several smaller {what} files",
            )
            return doc
        raw = path.read_bytes()
    except OSError as exc:
        doc.err(None, f"cannot read file: {exc.strerror or exc}", "check the path and permissions")
        return doc
    doc.sha256 = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        doc.errors.append(
            SuiteError(doc.shown, line, "file is not valid UTF-8 text", "save the file as UTF-8")
        )
        return doc
    loader: Any = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is not None:
            _walk(node, (), doc)
            if doc.errors:
                return doc
            doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(str(x) for x in (exc.context, exc.problem) if x) or "invalid YAML"
        ctx = exc.context_mark
        if ctx is not None and mark is not None and ctx.line != mark.line:
            problem += f" (it starts at line {ctx.line + 1})"
        hint = "fix the YAML here (indentation, quotes, ':' after keys)"
        if "flow" in problem:
            hint = (
                "close the [ ] or { } it opened, or write the list one `- item` per line; "
                "quote items that contain `:`, `,`, `[` or `#`"
            )
        doc.errors.append(
            SuiteError(
                doc.shown, mark.line + 1 if mark else None, f"YAML syntax error: {problem}", hint
            )
        )
        return doc
    except yaml.reader.ReaderError as exc:
        line = text[: max(exc.position, 0)].count("\n") + 1
        doc.errors.append(
            SuiteError(
                doc.shown,
                line,
                f"YAML cannot hold character {exc.character!r}"
                if isinstance(exc.character, str)
                else f"YAML cannot hold character #x{exc.character:04x}",
                "remove the control character, or write it as an escape "
                "inside a double-quoted string",
            )
        )
        return doc
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        doc.err(None, f"YAML could not be read: {exc}", "fix the YAML (quote unusual values)")
        return doc
    except (RecursionError, _TooBig):
        doc.err(
            None,
            f"YAML is nested too deeply or expands to over {MAX_NODES:,} items (through aliases)",
            "flatten the file and drop the aliases; suites are small",
        )
        return doc
    finally:
        if loader is not None:
            loader.dispose()
    if doc.data is None or doc.data == "" or doc.data == {} or doc.data == []:
        doc.errors.append(
            SuiteError(
                doc.shown, 1, "file is empty", f"write a {what}: see docs/suites.md for an example"
            )
        )
    elif not isinstance(doc.data, dict):
        doc.errors.append(
            SuiteError(
                doc.shown,
                doc.lines.get((), 1),
                f"a {what} file must be a mapping of keys (got a {type_name(doc.data)})",
                f"start the file with `{'suite' if what == 'suite' else 'manifest'}: name`",
            )
        )
    return doc


class _TooBig(Exception):
    """Aborts the walk of a document that expands to absurd size (an alias bomb)."""


def _walk(node: yaml.Node, loc: Path_, doc: Doc, depth: int = 0) -> None:
    """Record each key's and item's line; flag non-text and duplicate keys (YAML keeps the last)."""
    doc.nodes += 1
    if depth > 50 or doc.nodes > MAX_NODES:
        raise _TooBig
    doc.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:  # `<<: *anchor` merges keys; lines fall back to here
                _walk(value_node, loc, doc, depth + 1)
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "(a list/map)"
                doc.errors.append(
                    SuiteError(
                        doc.shown,
                        line,
                        f"key `{shown}` is not text",
                        'quote the key, e.g. "yes": (YAML reads yes/no/on, '
                        "numbers and dates as non-text)",
                    )
                )
                continue
            key = key_node.value
            if key in first:
                doc.errors.append(
                    SuiteError(
                        doc.shown,
                        line,
                        f"duplicate key `{key}` (first at line {first[key]})",
                        "remove one of them; YAML would silently keep the last",
                    )
                )
                continue
            first[key] = line
            doc.lines[loc + (key,)] = line
            _walk(value_node, loc + (key,), doc, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.lines[loc + (i,)] = item.start_mark.line + 1
            _walk(item, loc + (i,), doc, depth + 1)
    elif isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        bad = next((ch for ch in node.value if _unsafe_char(ch)), None)
        if bad is not None:
            name = unicodedata.name(bad, "") or {"\x1b": "ESC", "\r": "CR"}.get(bad, "control")
            doc.errors.append(
                SuiteError(
                    doc.shown,
                    node.start_mark.line + 1,
                    f"text contains the control character U+{ord(bad):04X} ({name})",
                    "remove it: suite text is shown in terminals, exports and the dashboard,"
                    " where control and bidi characters can hide or rewrite what is shown",
                )
            )


_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe_char(ch: str) -> bool:
    """Control characters (tab and newline are fine) and bidi overrides/isolates/marks."""
    return ch in _BIDI or (unicodedata.category(ch) == "Cc" and ch not in "\t\n")


# --------------------------------------------------------------------------- schema errors


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def describe(data: Any, loc: Path_) -> str:
    """A location in words, naming claims by id: claim `has_body`, `ask[2]`."""
    owner, rest = "", list(loc)
    if len(loc) >= 2 and loc[0] in ("claims", "rules", "context") and isinstance(loc[1], int):
        item = data.get(loc[0]) if isinstance(data, dict) else None
        item = item[loc[1]] if isinstance(item, list) and loc[1] < len(item) else None
        if loc[0] == "claims" and isinstance(item, dict) and isinstance(item.get("id"), str):
            owner = f"claim `{item['id']}`"
        else:
            owner = {"claims": "claim", "rules": "rule", "context": "context turn"}[loc[0]]
            owner += f" #{loc[1] + 1}"
        rest = rest[2:]
    dotted = ""
    for step in rest:
        dotted += f"[{step}]" if isinstance(step, int) else (f".{step}" if dotted else str(step))
    if owner and dotted:
        return f"{owner}, `{dotted}`"
    return owner or (f"`{dotted}`" if dotted else "the top level")


def _schema_error(doc: Doc, e: jsonschema.ValidationError, kind: str) -> list[SuiteError]:
    """One jsonschema error as SuiteErrors with line, plain words and a fix."""
    loc = tuple(e.absolute_path)
    where = describe(doc.data, loc)
    inst = e.instance
    v = e.validator
    line = doc.line(loc)

    def one(message: str, hint: str, at: int | None = line) -> list[SuiteError]:
        return [SuiteError(doc.shown, at, message, hint)]

    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted(e.schema.get("properties", {}) if isinstance(e.schema, dict) else {})
        out = []
        for key in inst:
            if key in allowed:
                continue
            close = closest(str(key), allowed)
            hint = f"did you mean `{close}`? " if close else ""
            hint += f"valid keys here: {', '.join(allowed)}"
            out.append(
                SuiteError(
                    doc.shown,
                    doc.line(loc + (key,)),
                    f"unknown key `{key}` " + (f"in {where}" if loc else "at the top level"),
                    hint,
                )
            )
        return out
    if v == "required" and isinstance(inst, dict):
        owner = where if loc else "the file"
        return [
            SuiteError(
                doc.shown,
                line,
                f"{owner} is missing required key `{k}`",
                f"add `{k}:`" + _REQUIRED_HINTS.get(k, ""),
            )
            for k in cast("list[str]", e.validator_value)
            if k not in inst
        ]
    if v == "type":
        types = e.validator_value if isinstance(e.validator_value, list) else [e.validator_value]
        names = {
            "string": "text",
            "boolean": "true or false",
            "array": "a list",
            "object": "a mapping of keys",
            "null": "empty",
        }
        want = " or ".join(names.get(str(t), str(t)) for t in types if t != "null") or "empty"
        hint = "quote it: YAML reads yes/no/on/off, numbers and dates as non-text"
        if "array" in types:
            hint = "write a list, one `- item` per line"
        elif "boolean" in types:
            hint = "write true or false (unquoted), or leave the key out"
        elif "object" in types:
            hint = "write `key: value` lines under it"
        return one(f"{where} must be {want} (got {type_name(inst)}: {short(inst)})", hint)
    if v == "pattern":
        if e.validator_value == r"\S":
            return one(f"{where} is blank", "write some text, or remove the key")
        if str(e.validator_value).startswith("^(not"):
            return one(
                f"{where}: `{short(inst)}` is not a claim literal",
                "write a claim id, or `not <claim id>` (e.g. not has_physical_body)",
            )
        return one(f"{where}: `{short(inst)}` is not a valid id", _ID_HINT)
    if v == "minLength":
        return one(f"{where} is empty", "write some text, or remove the key")
    if v == "maxLength":
        return one(
            f"{where} is {len(cast(str, inst))} characters (limit {e.validator_value})",
            "keep prompts short: one question or request",
        )
    if v == "minItems":
        if loc and loc[-1] == "claims":
            return one("the suite has no claims", "add at least one claim under `claims:`")
        return one(
            f"{where} needs at least {e.validator_value} items",
            "list two or more claim ids, e.g. exclusive: [is_human, is_ai_system]",
        )
    if v == "enum":
        if loc and loc[-1] == "role":
            return one(
                f"{where}: role `{short(inst)}` is not user or assistant",
                "use role: user or role: assistant (a system message goes in `system_prompt`)",
            )
        return one(
            f"{where}: `{short(inst)}` is not one of {e.validator_value}", "use one of those"
        )
    if v == "oneOf" and isinstance(inst, dict):
        if "exclusive" in inst:
            return one(
                f"{where} mixes `exclusive` with `when`/`then`",
                "split it into two rules: {when: X, then: Y} and {exclusive: [a, b]}",
            )
        missing = "then" if "when" in inst else "when" if "then" in inst else None
        if missing:
            return one(
                f"{where} has no `{missing}`", f"add `{missing}: <claim id or not claim id>`"
            )
        return one(
            f"{where} is not a rule",
            "write {when: claim_a, then: claim_b} or {exclusive: [claim_a, claim_b]}",
        )
    return one(f"{where}: {e.message}", f"see the {kind} schema: behaviordbg suites schema")


_REQUIRED_HINTS = {
    "suite": " with the suite's name at the top of the file (e.g. suite: embodiment)",
    "claims": " with a list of claims (see docs/suites.md)",
    "id": " with a unique claim id (e.g. id: has_physical_body)",
    "text": " with the claim as a statement (e.g. text: The assistant has a physical body.)",
    "role": " user or assistant",
    "content": " with the turn's text",
    "manifest": " with the deployment's name at the top of the file (e.g. manifest: chat)",
}


def short(value: Any, limit: int = 60) -> str:
    s = value if isinstance(value, str) else repr(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def check_schema(doc: Doc, kind: Literal["suite", "manifest"]) -> None:
    errors = sorted(_validator(kind).iter_errors(doc.data), key=lambda e: list(map(str, e.path)))
    seen: set[tuple[Any, ...]] = set()
    for e in errors:
        for err in _schema_error(doc, e, kind):
            if (err.line, err.message) not in seen:
                seen.add((err.line, err.message))
                doc.errors.append(err)
