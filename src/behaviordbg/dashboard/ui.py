"""Helpers every dashboard page shares: which database, which run, cached reads, safe text.

Pages hold no data logic: they call `load(data.<function>, ...)`, which opens a fresh read-only
Store (never blocking the pipeline's writer) and caches the result keyed by the function, its
arguments and the database file's identity and modification state: a run that is writing shows on
the next rerun.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import streamlit as st

from ..config import resolve_db
from ..errors import BehaviordbgError
from ..store import Store
from . import data

P = ParamSpec("P")
T = TypeVar("T")

PAGE_SIZE = 200


def db_path() -> str:
    """`-- --db PATH` after the streamlit arguments, else $BEHAVIORDBG_DB, else the default."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--db", default=None)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return resolve_db(args.db)


@st.cache_data(max_entries=256, show_spinner=False)
def _cached(_fn: Callable[..., Any], name: str, version: tuple[str, int, int, int],
            args: tuple[Any, ...], kwargs: tuple[tuple[str, Any], ...]) -> Any:
    """One `_fn(store, *args, **kwargs)` call. Streamlit leaves `_fn` out of the cache key (its
    leading underscore); `name` (the function's full name), `version` (see data.db_version) and
    the arguments are it."""
    with Store.open(version[0], readonly=True) as store:
        return _fn(store, *args, **dict(kwargs))


def load(fn: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(store, *args)` on a fresh read-only connection, cached per database state; a database
    problem stops the page with the message and its fix."""
    path = db_path()
    try:
        result: T = _cached(fn, f"{fn.__module__}.{fn.__qualname__}", data.db_version(path),
                            args, tuple(sorted(kwargs.items())))
        return result
    except BehaviordbgError as err:
        st.error(str(err))
    except sqlite3.DatabaseError as err:
        st.error(f"{path} is not a readable behaviordbg database ({err}).\n\nfix: pass the "
                 "database `behaviordbg run` wrote (--db), or run any behaviordbg command on it "
                 "once to bring its schema up to date.")
    st.stop()


def current_run() -> str | None:
    """The run picked in the sidebar (app.py owns the picker)."""
    return st.session_state.get("run")


def selected_run() -> str:
    """The run picked in the sidebar; stops the page with a note when the database has none."""
    run = current_run()
    if run is None:
        st.info("No runs in this database yet. Start one with `behaviordbg run`.")
        st.stop()
    return run


def current_analysis() -> str:
    """The newest complete analysis of the picked run; stops the page with a note if none."""
    analysis = load(data.analysis_id, selected_run())
    if analysis is None:
        st.info("This run has no complete analysis yet (it may still be running). "
                "Analyse it with `behaviordbg analyze`.")
        st.stop()
    return analysis


def untrusted(label: str, value: str | None) -> None:
    """Show model output (or anything derived from it) as inert text: never Markdown or HTML."""
    st.caption(label)  # label: a fixed string from our own code
    st.code(value if value is not None else "(no text)", language=None, wrap_lines=True)


def conversation(turns: Sequence[tuple[str, str]]) -> None:
    """A multi-turn conversation, each turn as inert text under a fixed role label."""
    for role, text in turns:
        untrusted("user" if role == "user" else "model", text)


def flash(message: str | None = None) -> None:
    """Show (and clear) a message stored before st.rerun(), or store one."""
    if message is not None:
        st.session_state["_flash"] = message
        return
    msg = st.session_state.pop("_flash", None)
    if msg:
        st.success(msg)


def apply_triage(fingerprint: str, **changes: Any) -> dict[str, Any]:
    """Write one triage action through behaviordbg.triage on a short-lived writable Store."""
    from ..triage import triage

    with Store.open(db_path()) as store:
        return triage(store, fingerprint, actor="dashboard", **changes)
