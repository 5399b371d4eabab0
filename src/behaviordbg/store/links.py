"""Run links: a run and its prompted-baseline twin (the same queries with the deployment's system
prompt put first), and the prompt's text and sha256 (behaviordbg.pipeline.baseline)."""

from __future__ import annotations

from typing import TypedDict, cast

from .connection import StoreBase, now_iso


class RunLink(TypedDict):
    """`run_id` is the prompted twin of `base_run_id`; the prompt is stored whole."""

    run_id: str
    base_run_id: str
    kind: str
    prompt_sha256: str
    prompt_text: str
    prompt_source: str
    created_at: str


class LinkTables(StoreBase):
    """The run_links table."""

    def link_prompted_run(
        self, base_run_id: str, run_id: str, *, prompt_text: str, prompt_sha256: str,
        prompt_source: str,
    ) -> None:
        """Record `run_id` as the prompted twin of `base_run_id` (joins the caller's
        transaction, so a twin is never created without its link)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO run_links (run_id, base_run_id, kind, prompt_sha256, prompt_text,"
                " prompt_source, created_at) VALUES (?, ?, 'prompted_baseline', ?, ?, ?, ?)",
                (run_id, base_run_id, prompt_sha256, prompt_text, prompt_source, now_iso()),
            )

    def run_link(self, run_id: str) -> RunLink | None:
        """The link a run is part of, from either side (the newest twin when a base run has
        several); None when the run has no prompted baseline."""
        if not self.has_table("run_links"):  # a read-only database made before 0009
            return None
        row = self.conn.execute(
            "SELECT * FROM run_links WHERE run_id = ? OR base_run_id = ?"
            " ORDER BY (run_id = ?) DESC, created_at DESC, run_id DESC LIMIT 1",
            (run_id, run_id, run_id),
        ).fetchone()
        return cast(RunLink, dict(row)) if row else None

    def linked_run_ids(self) -> dict[str, str]:
        """run id -> the run it is linked to, for both sides of every link (the dashboard's run
        picker and Compare page)."""
        out: dict[str, str] = {}
        if not self.has_table("run_links"):
            return out
        for r in self.conn.execute("SELECT run_id, base_run_id FROM run_links ORDER BY created_at"):
            out[r["run_id"]] = r["base_run_id"]
            out[r["base_run_id"]] = r["run_id"]
        return out
