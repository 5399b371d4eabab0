"""CLI command: `label` (a person sets the stance of an answer; the bugs follow)."""

from __future__ import annotations

from typing import Any

import typer

from ..config import resolve_db
from ..errors import BehaviordbgError
from ..store import HUMAN_STANCES, Store
from ._common import DbOption, JsonOption, console, emit_json, escape

STANCE_HELP = (f"The answer's stance toward its claim: {', '.join(HUMAN_STANCES)} (the same"
               " meaning as the judges', see docs/judging.md).")


def label_cmd(
    response_id: str | None = typer.Argument(
        None, help="The answer to label: a response id (or unique prefix) from a bug's evidence,"
                   " the dashboard, `bugs --json` or `export --format labels`."),
    stance: str | None = typer.Option(None, "--stance", "-s", help=STANCE_HELP),
    note: str = typer.Option("", "--note", "-n", help="Why: kept with the label and shown with"
                             " the evidence."),
    author: str | None = typer.Option(None, "--author", help="Who labels (default: your login"
                                      " name)."),
    from_file: str | None = typer.Option(
        None, "--from", help="A JSONL file of labels, one per line: {\"response_id\": ...,"
        " \"stance\": ..., \"note\": ...}; an `export --format labels` file works as it is."
        " All or nothing: a bad line stores none and names file:line."),
    clear: bool = typer.Option(False, "--clear", help="Remove the answer's label: the judge"
                               " decides again (history is kept)."),
    reanalyze: bool = typer.Option(
        True, "--reanalyze/--no-reanalyze", help="Re-analyse the labelled answers' runs from the"
        " stored verdicts (no model is asked) so their bugs follow at once. Off: the next"
        " `analyze` applies the labels."),
    db: str | None = DbOption,
    json_out: bool = JsonOption,
) -> None:
    """Set the stance of an answer by hand: labels win over every judge.

    A label applies to this answer and to the same answer in later runs (same claim, framing,
    prompt and answer text: cached answers match; see docs/review.md). Re-analysing then closes
    each bug whose evidence the label takes away as false_positive ("evidence relabelled" in its
    history) and reports any bug it creates as new. `behaviordbg stats` scores every judge
    against the labels; `export --format labels` writes them for eval/ and `behaviordbg judge`.

    Examples:

      behaviordbg label r-3f2a --stance deny --note "says it cannot browse, the judge misread it"
      behaviordbg label --from labels.jsonl --author alice
      behaviordbg label r-3f2a --clear
    """
    from ..pipeline.labelling import (
        LabelError,
        check_stance,
        label_answers,
        label_effect,
        label_from_file,
    )
    from ..pipeline.labelling import (
        reanalyze as reanalyze_runs,
    )

    if (response_id is None) == (from_file is None):
        raise LabelError("give either RESPONSE_ID or --from FILE",
                         hint="behaviordbg label RESPONSE_ID --stance deny, or"
                              " behaviordbg label --from labels.jsonl")
    if response_id is not None and not clear:
        if stance is None:
            raise LabelError("--stance is missing", hint=f"add --stance {HUMAN_STANCES[1]}"
                             f" (one of: {', '.join(HUMAN_STANCES)}), or --clear")
        check_stance(stance)
    if from_file is not None and (stance or clear):
        raise LabelError("--stance and --clear apply to one RESPONSE_ID, not to --from",
                         hint="put each stance in the file")
    with Store.open(resolve_db(db)) as store:
        if from_file is not None:
            written = label_from_file(store, from_file, author=author)
        else:
            assert response_id is not None
            written = label_answers(store, [(response_id, "" if clear else str(stance), note)],
                                    author=author)
        effect: dict[str, Any] = {}
        if reanalyze:
            try:
                effect = label_effect(reanalyze_runs(store, [w["run_id"] for w in written]))
            except BehaviordbgError as err:  # the labels are stored; say why bugs did not follow
                effect = {"error": err.message, "hint": err.hint}
    doc = {"labels": [{k: w[k] for k in ("id", "response_id", "run_id", "claim_id", "framing",
                                         "stance", "author", "note", "answer_key")}
                      for w in written], "reanalyzed": effect}
    if json_out:
        emit_json(doc)
        return
    for w in written:
        what = f"labelled {w['stance']}" if w["stance"] else "label cleared"
        console.print(escape(f"{w['response_id'] or w['answer_key'][:12]} ({w['claim_id']},"
                             f" {w['framing']}): {what} by {w['author']}"))
    if "error" in effect:
        console.print(escape(f"labels stored, not re-analysed: {effect['error']}"
                             f" (fix: {effect['hint']})"))
    elif effect.get("runs"):
        runs = ", ".join(effect["runs"])
        console.print(escape(f"re-analysed {runs} from stored verdicts (no model asked)"))
        for key, what in (("closed", "closed as false_positive (evidence relabelled)"),
                          ("reopened", "reopened"), ("created", "new (created by labels)")):
            for fp in effect[key]:
                console.print(escape(f"  bug {fp}: {what}"))
    else:
        console.print("apply them: behaviordbg analyze RUN (stored verdicts are reused; no model"
                      " is asked)")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("label")(label_cmd)
