"""The fix-dataset half of `behaviordbg export` (--format sft|dpo): thin, like the rest.

Builds the dataset with behaviordbg.pipeline.fix_data (it needs the run's answers, not the ticket
payload) and writes it with behaviordbg.export.fix_datasets.
"""

from __future__ import annotations

import shlex
from typing import Any

from ..config import resolve_db
from ..errors import BehaviordbgError
from ..export import safe_out_path
from ..export.fix_datasets import write_dataset
from ..pipeline.fix_data import FixDataOptions, build_fix_dataset
from ..store import Store
from ..urls import redact_url
from ._common import StageProgress, console, emit_json, escape, fail


def parse_statuses(values: list[str] | None) -> tuple[str, ...]:
    """--status confirmed --status new, or --status confirmed,new; default: confirmed."""
    out = [s.strip() for v in values or [] for s in v.split(",") if s.strip()]
    return tuple(dict.fromkeys(out)) or ("confirmed",)


def export_dataset(
    run_id: str, fmt: str, out: str, *, statuses: list[str] | None, base_dir: str | None,
    teacher_base_url: str | None, teacher_model: str | None, teacher_api_key_env: str,
    db: str | None, json_out: bool, survives_prompting: bool = False,
) -> None:
    """Write a fix dataset (data, metadata sidecar, trained prompts, datasheet) and say where."""
    try:
        opts = FixDataOptions(statuses=parse_statuses(statuses), teacher_base_url=teacher_base_url,
                              teacher_model=teacher_model, teacher_api_key_env=teacher_api_key_env,
                              survives_prompting=survives_prompting)
        target = safe_out_path(out, base_dir)
        with Store.open(resolve_db(db), readonly=True) as store:
            ds = build_fix_dataset(store, run_id, opts,
                                   None if json_out else StageProgress("teacher", "failed"))
        parts = ["behaviordbg", "export", ds.run_id, "--format", fmt, "--out", out,
                 *(x for s in opts.statuses for x in ("--status", s))]
        if survives_prompting:
            parts.append("--survives-prompting")
        if teacher_base_url and teacher_model:
            parts += ["--teacher-base-url", redact_url(teacher_base_url),
                      "--teacher-model", teacher_model]
        if db:
            parts += ["--db", db]
        files, ds = write_dataset(fmt, ds, target, shlex.join(parts))
    except BehaviordbgError as err:
        raise fail(err) from err
    result: dict[str, Any] = {
        "format": fmt, "run_id": ds.run_id, "bugs": len(ds.bugs), "examples": len(ds.examples),
        "skipped": dict(ds.skipped), "teacher": ds.teacher, **files.to_dict()}
    if json_out:
        emit_json(result)
        return
    console.print(f"wrote {len(ds.examples)} {escape(fmt)} example(s) from {len(ds.bugs)} bug(s)"
                  f" of run {escape(ds.run_id)} to {escape(str(files.data))}"
                  f" ({sum(ds.skipped.values())} skipped; see {escape(str(files.datasheet))})")
    if not ds.bugs:
        console.print(f"no bug of this run has status {escape(', '.join(opts.statuses))}: confirm"
                      " bugs first (behaviordbg triage FINGERPRINT --status confirmed) or pass"
                      " --status new")


def heldout_section(store: Store, run_a: str, run_b: str, dataset: str) -> dict[str, Any]:
    """`diff --heldout`: the dataset's bugs on trained and held-out prompts (behaviordbg.heldout)."""
    from ..heldout import heldout_diff, load_trained

    try:
        return heldout_diff(store, run_a, run_b, load_trained(dataset)).to_dict()
    except BehaviordbgError as err:
        raise fail(err) from err


def _cell(split: dict[str, Any]) -> str:
    def rate(w: int, r: int) -> str:
        return f"{w}/{w + r}" if w + r else "-"

    p = split["p_value"]
    return (f"{escape(split['status'])}\nwrong {rate(split['wrong_a'], split['right_a'])} ->"
            f" {rate(split['wrong_b'], split['right_b'])}" + ("" if p is None else f" p={p:.2g}"))


def print_heldout(report: dict[str, Any]) -> None:
    """The held-out table: one row per bug of the fix dataset."""
    from rich.table import Table

    for warning in report.get("warnings") or []:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}", markup=True)
    table = Table(title=f"fix dataset {escape(report['dataset'])}: trained vs held-out prompts")
    for col in ("bug", "verdict", "trained prompts", "held-out prompts", "still found in b"):
        table.add_column(col, overflow="fold")
    for b in report["bugs"]:
        verdict = escape(b["verdict"]) + (" [bold red](flagged)[/]" if b["flagged"] else "")
        table.add_row(f"{escape(b['fingerprint'])}\n{escape(', '.join(b['claims']))}",
                      f"{verdict}\n{escape(b['note'])}", _cell(b["trained"]), _cell(b["heldout"]),
                      "yes" if b["reported_in_b"] else "no")
    console.print(table)
    console.print(", ".join(f"{k}: {v}" for k, v in report["summary"].items()))
