"""The one escaper for text shown on a terminal: model answers, and anything read from a database
or a suite file (titles, notes, labels, run ids, error messages that quote them).

A terminal obeys what it is sent: `ESC [2J` clears the screen, `ESC ]0;...` sets the window title,
a carriage return overwrites the line, and bidi overrides (U+202E) or zero-width characters make
text read differently from what it is. `printable` shows every such character as a visible escape
(`\\x1b`, `\\r`, `\\u202e`): control (Cc), format (Cf: bidi, zero-width), line/paragraph separators
(Zl, Zp), surrogates and private-use and unassigned code points. Newlines are kept only when the
caller asks (multi-line notes in a table cell); tabs always become `\\t`.
"""

from __future__ import annotations

import unicodedata

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
