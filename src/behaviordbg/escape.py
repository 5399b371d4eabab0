"""The one escaper for untrusted text: model answers, and anything read from a database or a
suite file (titles, notes, labels, run ids, error messages that quote them). Every output that
shows such text, the terminal, the pytest report and each export format, goes through here.

A terminal obeys what it is sent: `ESC [2J` clears the screen, `ESC ]0;...` sets the window title,
a carriage return overwrites the line, and bidi overrides (U+202E) or zero-width characters make
text read differently from what it is. `printable` shows every such character as a visible escape
(`\\x1b`, `\\r`, `\\u202e`): control (Cc), format (Cf: bidi, zero-width), line/paragraph separators
(Zl, Zp), surrogates and private-use and unassigned code points. Newlines are kept only when the
caller asks (multi-line notes in a table cell); tabs always become `\\t`.

A file a person opens in another program (Markdown, CSV, XML, Jira) keeps its layout characters
(tab, newline, carriage return) and is escaped for that format instead: Markdown/HTML markup, CSV
formulas, characters XML cannot carry. Control and bidi characters in it are shown as `\\xNN`
(U+202E as `\\x202e`, the form docs/exports.md documents); `json` needs none of this
(the JSON encoder escapes what it must) and keeps the full text.
"""

from __future__ import annotations

import html
import re
import unicodedata

# --------------------------------------------------------------------------- terminals

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
CUT = " …[cut]"


def _escape_char(ch: str) -> str:
    if ch == "\n":
        return "\\n"
    return ch.encode("unicode_escape").decode("ascii")


def printable(text: object, limit: int | None = None, *, newlines: bool = False) -> str:
    """`text` safe to print: unsafe characters escaped, cut to `limit` characters (of the
    original) with ` …[cut]`. With `newlines`, line breaks stay real line breaks."""
    s = str(text)
    cut = limit is not None and len(s) > limit
    if cut:
        s = s[:limit]
    if s.isprintable() and "\t" not in s:  # the common case: nothing to do
        return s + (CUT if cut else "")
    out = []
    for ch in s:
        if ch == "\n" and newlines:
            out.append(ch)
        elif ch == "\t" or unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out) + (CUT if cut else "")


# --------------------------------------------------------------------------- export formats

# control characters (tab and newlines are kept) and bidi overrides/isolates/marks, which make
# text read differently from what it is (U+202E turns "exe.txt" around)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_XML_FORBIDDEN = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()!|~])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")
_BACKTICK_RUN = re.compile(r"`+")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _visible(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group(0)):02x}"


def clip(text: str, limit: int | None) -> str:
    """At most `limit` characters of `text`, and when cut, how much more the json export has.
    Each format's limit is a constant in its module (see docs/exports.md)."""
    if limit is None or len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters: see the json export]"


def strip_controls(text: str) -> str:
    """Control characters (except tab and newlines) and bidi controls shown as \\xNN (U+202E as
    \\x202e) so they cannot hide or corrupt."""
    return _CONTROL.sub(_visible, text)


def md_inline(text: str, limit: int | None = None) -> str:
    """Text for one Markdown line or table cell: HTML-escaped, Markdown punctuation and pipes
    backslash-escaped, newlines folded, so no link, image, tag, emphasis or cell break survives."""
    text = " ".join(strip_controls(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    return _MD_LINE_START.sub(_escape_block_marker, text)


def _escape_block_marker(m: re.Match[str]) -> str:
    """`# x`, `- x`, `1. x` at a line start would make a heading or list: escape the punctuation."""
    marker = m.group(2)
    return m.group(1) + marker[:-1] + "\\" + marker[-1]


def md_code_inline(text: str) -> str:
    """A short identifier in a code span whose delimiter is longer than any backtick run inside."""
    text = " ".join(strip_controls(text).split())
    longest = max((len(m) for m in _BACKTICK_RUN.findall(text)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{tick}{pad}{text}{pad}{tick}"


def md_fence(text: str, info: str = "text") -> str:
    """A fenced code block that the text cannot close: the fence is longer than any backtick run
    in it. Inside a fence Markdown and HTML are shown literally."""
    text = strip_controls(text)
    longest = max((len(m) for m in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def xml_text(text: str) -> str:
    """Text XML 1.0 can carry: forbidden characters (and bidi controls) become \\xNN
    (ElementTree escapes <, >, &)."""
    return _BIDI.sub(_visible, _XML_FORBIDDEN.sub(_visible, text))


def csv_cell(text: str) -> str:
    """A spreadsheet cell that cannot run as a formula (= + - @ tab CR get a leading ')."""
    text = strip_controls(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def jira_noformat(text: str) -> str:
    """Untrusted text in a Jira {noformat} block, which it cannot close early."""
    text = strip_controls(text)
    text = re.sub(r"\{noformat\}", "{ noformat}", text, flags=re.IGNORECASE)
    return "{noformat}\n" + text + "\n{noformat}"


def jira_inline(text: str, limit: int | None = None) -> str:
    """One line of Jira wiki text with markup characters neutralised."""
    text = " ".join(strip_controls(text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return re.sub(r"([\\{}\[\]|*_^~+?!#-])", r"\\\1", text)


def safe_name(text: str, limit: int = 64) -> str:
    """A file-name component: letters, digits, dash, underscore, dot (never a path)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:limit].strip(".")
    return name or "item"
