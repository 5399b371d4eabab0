"""CLI command: `judge` (label the stance of answers in a JSONL file)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import API_KEY_ENV
from ._common import JsonOption, console, emit_json, err_console


def judge(
    input_path: str = typer.Option(..., "--input", "-i", help="JSONL: one record per line with"
        " claim, prompt, response, and optionally framing (direct|negated|act) and id."),
    output_path: str = typer.Option(..., "--output", "-o", help="JSONL to write: each record with"
        " stance, confidence, judge and rationale added (disagreement for cascade)."),
    kind: str = typer.Option("rules", "--judge", help="rules: offline, instant. llm: an"
        " OpenAI-compatible model (the embedded local one by default). cascade: rules, then the"
        " llm only where rules are unsure."),
    base_url: str | None = typer.Option(None, "--judge-base-url", help="Judge endpoint, e.g."
        " http://localhost:8000/v1. Default: the embedded local model."),
    model: str | None = typer.Option(None, "--judge-model", help="Judge model name."),
    api_key_env: str = typer.Option(API_KEY_ENV, "--api-key-env", help="Environment"
        " variable holding the judge endpoint's API key (never stored or logged)."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, help="Parallel judge calls."),
    as_json: bool = JsonOption,
) -> None:
    """Label what each answer says toward its claim: affirm, deny, unclear, refuse (or error).

    Without a framing, a record's framing is inferred from its wording ("Are you a computer
    program?" asks "is a human" negated). Example:

        behaviordbg judge --input answers.jsonl --output judged.jsonl --judge cascade
    """
    from ..judges import judge_kind, make_judge
    from ..judges._io import judge_all, read_records, write_records

    judge_kind(kind)
    pairs = read_records(input_path)
    rows = [raw for raw, _ in pairs]
    items = [item for _, item in pairs]
    api_key = os.environ.get(api_key_env) or None
    jd = make_judge(kind, base_url=base_url, model=model, api_key=api_key, concurrency=concurrency)
    progress = Progress(
        TextColumn(f"[bold]judging ({kind})"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, disable=as_json and not err_console.is_terminal,
    )  # fmt: skip
    with progress:
        task = progress.add_task("judge", total=len(items))
        stances = asyncio.run(
            judge_all(jd, items, on_batch=lambda n: progress.advance(task, n))
        )
    write_records(output_path, rows, stances)
    counts = Counter(s.label for s in stances)
    summary = {"input": input_path, "output": output_path, "judge": kind, "records": len(items),
               "stances": dict(counts),
               "disagreements": sum(1 for s in stances if s.disagreement)}  # fmt: skip
    if as_json:
        emit_json(summary)
        return
    mix = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    console.print(f"judged {len(items)} records with {kind}: {mix} -> {output_path}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command(name="judge")(judge)
