"""What `run` prints for a batch run: the commands that run a written file, and an ingest report."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from .. import pipeline
from ._common import console, err_console, escape

OPENAI_URL = "https://api.openai.com/v1"


def _with_db(cmd: list[str], db: str | None) -> str:
    return shlex.join(cmd + (["--db", db] if db else []))


def results_path(requests: str) -> str:
    """Where the printed commands put the results: next to the requests file."""
    path = Path(requests)
    return str(path.with_name(f"{path.stem}.results{path.suffix or '.jsonl'}"))


def batch_commands(summary: pipeline.RunSummary, db: str | None) -> dict[str, Any]:
    """The exact commands for a written file: vLLM's run_batch, OpenAI's Batch API (by
    behaviordbg, or by hand with curl) and the ingest."""
    info = summary.batch or {}
    if info.get("action") != "written":
        return {}
    file, run_id, model = str(info["file"]), summary.run_id, summary.model
    results = results_path(file)
    url = summary.base_url if summary.base_url.startswith(("http://", "https://")) else OPENAI_URL
    auth = '-H "Authorization: Bearer $OPENAI_API_KEY"'
    return {
        "results_file": results,
        "vllm": shlex.join(["python", "-m", "vllm.entrypoints.openai.run_batch", "-i", file,
                            "-o", results, "--model", model]),
        "openai": _with_db(["behaviordbg", "run", "--resume", run_id, "--batch", "--base-url",
                            url], db),
        "openai_by_hand": [
            f"curl {url}/files {auth} -F purpose=batch -F file=@{shlex.quote(file)}",
            f"curl {url}/batches {auth} -H 'Content-Type: application/json' -d"
            """ '{"input_file_id": "FILE_ID", "endpoint": "/v1/chat/completions","""
            """ "completion_window": "24h"}'""",
            f"curl {url}/batches/BATCH_ID {auth}   # until status is completed",
            f"curl {url}/files/OUTPUT_FILE_ID/content {auth} > {shlex.quote(results)}",
        ],
        "ingest": _with_db(["behaviordbg", "run", "--resume", run_id, "--batch-results", results],
                           db),
    }


def print_batch(summary: pipeline.RunSummary, db: str | None) -> None:
    """The human form of a batch run's outcome."""
    info = summary.batch or {}
    if info.get("action") == "written":
        cmds = batch_commands(summary, db)
        console.print(
            f"run [bold]{summary.run_id}[/] awaits a batch: {info['lines']} requests written to"
            f" {escape(info['file'])} ({info['bytes'] / 1e6:.1f} MB), nothing sent", markup=True)
        console.print("\nRun it with vLLM (one GPU or many: add --tensor-parallel-size N; if"
                      " --model is a path, add --served-model-name " + escape(summary.model) + "):",
                      markup=True)
        console.print(f"  {cmds['vllm']}", markup=False)
        console.print("\nor with OpenAI's Batch API (half price, results within 24 h):")
        console.print(f"  {cmds['openai']}", markup=False)
        console.print("  (or by hand:)", markup=False)
        for line in cmds["openai_by_hand"]:
            console.print(f"  {line}", markup=False)
        console.print("\nthen ingest the results:")
        console.print(f"  {cmds['ingest']}", markup=False)
        if info.get("over_openai_limits"):
            err_console.print("note: more than one OpenAI batch holds (50,000 requests, 200 MB):"
                              " split it for the Batch API (split -l 50000); vLLM takes it whole")
        return
    report = info.get("report") or {}
    if info.get("batch_id"):
        ids = info["batch_id"] if isinstance(info["batch_id"], list) else [info["batch_id"]]
        console.print(f"{'batch' if len(ids) == 1 else f'{len(ids)} batches'}"
                      f" {escape(', '.join(map(str, ids)))}: {escape(info.get('batch_status'))}"
                      f" ({info.get('lines_submitted', 0)} requests submitted by this command)",
                      markup=True)
    others = report.get("other_runs") or {}
    console.print(
        f"ingested {report.get('lines', 0)} result lines in {report.get('seconds', 0):.2f}s:"
        f" {report.get('answered', 0)} answers, {report.get('failed', 0)} failed,"
        f" {report.get('duplicates', 0)} duplicates, {report.get('already_answered', 0)} already"
        f" stored, {report.get('unknown', 0) + sum(others.values())} not of this run", markup=True)
    if others:
        err_console.print("  lines of other runs (not stored): " + escape(", ".join(
            f"{k} ({v})" for k, v in sorted(others.items()))), markup=True)
    if report.get("unknown_examples"):
        err_console.print("  unknown custom_ids (not stored), e.g. "
                          + escape(", ".join(report["unknown_examples"])), markup=True)
    console.print(
        f"run [bold]{summary.run_id}[/]: {summary.responses}/{summary.queries} answered,"
        f" {summary.errors} failed, status {summary.status}", markup=True)
    if report.get("missing"):
        err_console.print(
            f"[yellow]{report['missing']} queries have no result yet:[/] ingest another results"
            " file (e.g. the batch's error file), or ask them live: "
            + escape(shlex.join(["behaviordbg", "run", "--resume", summary.run_id]
                                + (["--db", db] if db else []))) + " (with --base-url)",
            markup=True)
