"""The store's foundation: opening a database file safely, migrating it, and transactions.

`StoreBase` holds the connection; the groups of tables add their methods on top of it (runs.py,
analyses.py, bugs.py, reads.py), and `behaviordbg.store.Store` is all of them together.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from ..config import DEFAULT_DB
from ..errors import StoreError, UnknownRunError
from .schema import MIGRATIONS, split_sql

S = TypeVar("S", bound="StoreBase")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    """Sortable by time, unique across machines."""
    return "run-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def database_error(err: sqlite3.Error, path: str) -> StoreError:
    """An SQLite failure as a StoreError that says what is wrong with the file and the fix."""
    text = str(err)
    low = text.lower()
    where = f"database {path}" if path else "the database"
    if "readonly" in low or "read-only" in low:
        return StoreError(f"{where} is read-only ({text})",
                          "make the file and its folder writable, or pass --db with a writable"
                          " path (reading commands such as `runs` and `bugs` work on it as is)")
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return StoreError(f"{where} is not a behaviordbg database ({text})",
                          "pass --db with the path of a behaviordbg database, or a new file name")
    if "unable to open" in low or "cannot open" in low:
        return StoreError(f"cannot open {where} ({text})",
                          "pass --db with a file path (not a folder) in an existing folder you"
                          " can write to")
    if "disk" in low and ("full" in low or "i/o" in low):
        return StoreError(f"{where} cannot be written ({text})",
                          "free disk space, or pass --db on another disk")
    if "locked" in low or "busy" in low:
        return StoreError(f"{where} stayed locked by another process ({text})",
                          "wait for the other behaviordbg command to finish, then retry")
    return StoreError(f"{where}: {text}",
                      "check the file, or pass --db with another path")


class StoreBase:
    """One SQLite database connection. Use as a context manager or call close()."""

    def __init__(self, conn: sqlite3.Connection, path: str, readonly: bool) -> None:
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self._tx_depth = 0  # > 0 inside transaction(): store writes join it

    @contextlib.contextmanager
    def transaction(self: S) -> Iterator[S]:
        """One write transaction for a read-modify-write (BEGIN IMMEDIATE: the write lock is taken
        first, so another process's read-modify-write waits instead of interleaving). Store
        writes made inside join it, and so do nested calls: nothing is visible to other
        connections until the outermost block commits; any exception rolls it all back."""
        if self._tx_depth:
            self._tx_depth += 1
            try:
                yield self
            finally:
                self._tx_depth -= 1
            return
        if not self.conn.in_transaction:
            self.conn.execute("BEGIN IMMEDIATE")
        self._tx_depth = 1
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()
        finally:
            self._tx_depth = 0

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls: type[S], path: str | Path | None = None, *, readonly: bool = False) -> S:
        """Open (and migrate) the database; `readonly` never writes and never blocks the writer.

        Any file that is not a usable behaviordbg database (a folder, a text file, a read-only
        file for writing, one written by a newer behaviordbg) is a StoreError naming the fix."""
        db = str(path or DEFAULT_DB)
        if db != ":memory:" and Path(db).is_dir():
            raise StoreError(f"--db {db} is a folder, not a database file",
                             f"pass a file path, e.g. --db {Path(db) / 'behaviordbg.db'}")
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                if db != ":memory:" and not Path(db).exists():
                    raise StoreError(f"no database at {db}",
                                     "start with `behaviordbg check` (it probes the model and"
                                     " finds the bugs), or pass --db with the database a run"
                                     " wrote")
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30,
                                       check_same_thread=False)
            else:
                if db != ":memory:":
                    _ensure_folder(db)
                conn = sqlite3.connect(db, timeout=30, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, db, readonly)
            if readonly:
                if len(store.check_schema()) < len(MIGRATIONS) and _writable(db):
                    # an older database: bring its schema up to date once, then read it
                    conn.close()
                    conn = None
                    cls.open(db).close()
                    return cls.open(db, readonly=True)
            else:
                _enable_wal(conn)
                conn.execute("PRAGMA synchronous = NORMAL")
                store.migrate()
            return store
        except sqlite3.Error as err:
            if conn is not None:
                conn.close()
            raise database_error(err, db) from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise

    def applied_migrations(self) -> set[str]:
        """Names of the migrations this database has (empty for a new file)."""
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
        ).fetchone()
        if not exists:
            return set()
        return {r[0] for r in self.conn.execute("SELECT name FROM migrations")}

    def check_schema(self) -> set[str]:
        """Refuse a database written by a newer behaviordbg (it has migrations this version does
        not know: writing to it could corrupt it, reading it could mislead). Returns what it has."""
        done = self.applied_migrations()
        unknown = sorted(done - {name for name, _ in MIGRATIONS})
        if unknown:
            from .. import __version__

            raise StoreError(
                f"database {self.path} was written by a newer behaviordbg: it has schema"
                f" migration(s) {', '.join(unknown)}, which behaviordbg {__version__} does not know",
                "upgrade behaviordbg (pip install -U behaviordbg) to use this database, or pass"
                " --db with another one",
            )
        return done

    def migrate(self) -> list[str]:
        """Apply pending migrations in order; returns the names applied. A database from a newer
        behaviordbg is refused (check_schema), never written to."""
        done = self.check_schema()
        if len(done) == len(MIGRATIONS):
            return []  # up to date: nothing to write (a read-only file opens fine)
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        applied = []
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            # Two processes may open a new database at once: take the write lock first and
            # re-check inside it, so one applies the migration (DDL included, atomically) and the
            # other waits (busy_timeout) and then skips it.
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                if self.conn.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    self.conn.execute("COMMIT")
                    continue
                for stmt in split_sql(sql):
                    self.conn.execute(stmt)
                self.conn.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)", (name, now_iso())
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            applied.append(name)
        return applied

    def close(self) -> None:
        self.conn.close()

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has_table(self, name: str) -> bool:
        """Whether the schema has this table (a read-only open never migrates an old file)."""
        return self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone() is not None

    def _no_runs_yet(self) -> UnknownRunError:
        """An empty database: say what to run first (suggesting `latest` would not help)."""
        return UnknownRunError(
            f"no runs yet in {self.path}",
            "start with `behaviordbg check` (it probes the model and finds the bugs), or"
            " `behaviordbg run` and then `behaviordbg analyze latest`",
        )

    def resolve_run(self, run_id: str) -> str:
        """Turn "latest" (or a unique prefix) into a run id, or raise StoreError with a hint."""
        if run_id in ("latest", "last", ""):
            row = self.conn.execute(
                "SELECT id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                raise self._no_runs_yet()
            return str(row[0])
        row = self.conn.execute("SELECT id FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row:
            return str(row[0])
        rows = self.conn.execute(
            "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
            (like_prefix(run_id),),
        ).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if self.conn.execute("SELECT 1 FROM runs LIMIT 1").fetchone() is None:
            raise self._no_runs_yet()
        raise UnknownRunError(
            f"no run {run_id!r} in {self.path}" + (" (prefix is ambiguous)" if rows else "")
            + ": see `behaviordbg runs` or use `latest`"
        )


def _ensure_folder(db: str) -> None:
    """The database's folder must exist; only the default `.behaviordbg` folder is created (in
    an existing parent), so a mistyped --db never leaves a trail of new folders."""
    folder = Path(db).parent
    if folder.is_dir():
        return
    if folder.name == Path(DEFAULT_DB).parent.name:
        try:
            folder.mkdir()
            return
        except FileNotFoundError:
            pass
        except FileExistsError:
            return
    raise StoreError(f"folder {folder} does not exist (for the database {db})",
                     f"create it first (mkdir -p {folder}) or pass another --db")


def _writable(db: str) -> bool:
    return db != ":memory:" and os.access(db, os.W_OK) and os.access(Path(db).parent, os.W_OK)


def like_prefix(text: str) -> str:
    """A LIKE pattern matching `text` as a literal prefix (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


@retry(retry=retry_if_exception(_is_locked), wait=wait_random(0.01, 0.1),
       stop=stop_after_delay(30), reraise=True)
def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a database to WAL once. SQLite answers SQLITE_BUSY at once (no busy handler) when
    two processes switch a new file at the same moment, so that case is retried here."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
