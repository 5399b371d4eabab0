"""CLI commands: `behaviordbg suites validate | list | schema | generate | augment`.

Thin: the loader in behaviordbg.suites does all checking; this prints its results.
"""

from __future__ import annotations

from typing import Any

import typer

from .. import suites as S
from ..errors import SuiteError
from ..escape import printable
from ..types import ALL_FRAMINGS, Manifest, Suite
from ._common import JsonOption, emit_json, print_table

PathsArg = typer.Argument(
    None,
    help="Suite files, or folders whose *.yaml/*.yml files are read (not recursive). "
    "Default: the shipped probes/ (or $BEHAVIORDBG_PROBES).",
    show_default=False,
)
ManifestOption = typer.Option(
    None,
    "--manifest",
    "-m",
    help="Deployment manifest: a .yaml path or a shipped name (chat, agent-with-tools). "
    "Default: a plain chat model with no tools, memory or browsing.",
)

suites_app = typer.Typer(
    name="suites",
    help="Check and inspect probe suites (the YAML files of claims, prompts and rules).\n\n"
    "Format: docs/suites.md; JSON Schema: `behaviordbg suites schema`.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


# one line per paragraph: the rich help keeps a docstring's line breaks
_VALIDATE_HELP = (
    "Check suites (and optionally a manifest) against the schema and against each other.\n\n"
    "Exit 0 with a one-line summary when everything is valid. Exit 2 listing EVERY problem as "
    "`path:line: message` with a `fix:` line under it: bad YAML, unknown keys, wrong types, "
    "duplicate claim ids, rules naming missing claims, duplicate prompts.\n\n"
    "Example: behaviordbg suites validate probes/ my_suite.yaml --manifest agent-with-tools"
)
_LIST_HELP = (
    "List every claim (id, suite, truth, tags, prompts per framing) and every rule.\n\n"
    "Truth is the manifest's when the claim's `capability` is in it, else the suite's default "
    '("-" when the suite leaves it open). With --json the last stdout line is one JSON object: '
    "{manifest, suites, claims: [{id, text, suite, truth, default_truth, tags, capability, "
    "prompts: {direct, negated, act}}], rules: [{id, when, then, suite, source, note}], totals}."
)


def _fail(errors: list[SuiteError], as_json: bool) -> None:
    """Every error as `path:line: message` plus its fix; exit 2."""
    for err in errors:  # plain echo: one unwrapped `path:line: message` line for editors and CI
        typer.echo(printable(str(err), newlines=True), err=True)
    n = len(errors)
    typer.echo(f"{n} problem{'s' if n != 1 else ''} found", err=True)
    if as_json:
        emit_json(
            {
                "ok": False,
                "errors": [
                    {"path": e.path, "line": e.line, "message": _bare(e), "hint": e.hint}
                    for e in errors
                ],
            }
        )
    raise typer.Exit(2)


def _bare(err: SuiteError) -> str:
    """The message without its `path:line: ` prefix (JSON has those as fields)."""
    where = f"{err.path}:{err.line}: " if err.line else f"{err.path}: "
    return err.message[len(where) :] if err.message.startswith(where) else err.message


def _load(
    paths: list[str] | None, manifest: str | None, as_json: bool
) -> tuple[list[Suite], Manifest]:
    try:
        suites = S.load_suites(paths or None)
        man = S.load_manifest(manifest)
    except S.SuiteErrors as exc:
        _fail(exc.errors, as_json)
        raise  # unreachable: _fail exits
    except SuiteError as exc:
        _fail([exc], as_json)
        raise
    problems = S.check_manifest(man, suites) if manifest else []
    if problems:
        _fail(problems, as_json)
    return suites, man


def _totals(suites: list[Suite]) -> dict[str, int]:
    claims = [c for s in suites for c in s.claims]
    return {
        "suites": len(suites),
        "claims": len(claims),
        "prompts": sum(len(c.prompts(f)) for c in claims for f in ALL_FRAMINGS),
        "rules": len(S.all_rules(suites)),
    }


@suites_app.command("validate", help=_VALIDATE_HELP)
def validate(
    paths: list[str] | None = PathsArg,
    manifest: str | None = ManifestOption,
    as_json: bool = JsonOption,
) -> None:
    """Validate suites and a manifest; see _VALIDATE_HELP."""
    suites, man = _load(paths, manifest, as_json)
    totals = _totals(suites)
    where = ", ".join(paths) if paths else str(S.default_probes_dir())
    if as_json:
        emit_json({"ok": True, "manifest": man.name, **totals})
        return
    typer.echo(
        f"OK: {totals['suites']} suites, {totals['claims']} claims, {totals['prompts']} prompts, "
        f"{totals['rules']} rules ({printable(where)}; manifest {printable(man.name)})"
    )


@suites_app.command("list", help=_LIST_HELP)
def list_(
    paths: list[str] | None = PathsArg,
    manifest: str | None = ManifestOption,
    as_json: bool = JsonOption,
) -> None:
    """List claims and rules; see _LIST_HELP."""
    suites, man = _load(paths, manifest, as_json)
    claims = [_claim_row(c, man) for s in suites for c in s.claims]
    rules = [
        {
            "id": r.id,
            "when": str(r.when),
            "then": str(r.then),
            "suite": r.suite,
            "source": r.source,
            "note": r.note,
        }
        for r in S.all_rules(suites)
    ]
    if as_json:
        emit_json(
            {
                "manifest": man.name,
                "suites": S.suite_refs(suites),
                "claims": claims,
                "rules": rules,
                "totals": _totals(suites),
            }
        )
        return
    print_table(
        ("id", "truth", "prompts", "suite", "tags"),
        [(c["id"], _truth_cell(c),
          "/".join(str(c["prompts"][f]) for f in ALL_FRAMINGS), c["suite"], ", ".join(c["tags"]))
         for c in claims],
        title=f"claims (manifest: {man.name})", caption="prompts: direct/negated/act/open",
        fold=("suite", "tags"),
    )
    print_table(("id", "rule"), [(r["id"], f"{r['when']} => {r['then']}") for r in rules],
                title="rules (suites and notes in --json)", fold=("rule",))
    t = _totals(suites)
    typer.echo(f"{t['claims']} claims, {t['prompts']} prompts, {t['rules']} rules")


def _truth_cell(row: dict[str, Any]) -> str:
    """true/false/- for a yes/no claim; an open claim's declared value (`= Alibaba Cloud`), or
    `open` when the manifest declares none."""
    if row.get("value_type"):
        return f"= {row['value'][0]}" if row.get("value") else "open"
    return "-" if row["truth"] is None else str(row["truth"]).lower()


def _claim_row(c: Any, man: Manifest) -> dict[str, Any]:
    return {
        "id": c.id,
        "text": c.text,
        "suite": c.suite,
        "truth": man.truth_of(c),
        "default_truth": c.truth,
        "tags": list(c.tags),
        "capability": c.capability,
        "prompts": S.framing_counts(c),
        "value_type": c.value_type,
        "value": list(man.claim_values.get(c.id, ())),
        # what the suite declares: null = nothing (run --pushback sends the defaults), [] = off
        "pushback": None if c.pushback is None else [
            {"towards": ch.towards, "turns": list(ch.turns)} for ch in c.pushback],
    }


@suites_app.command("schema")
def schema(
    manifest: bool = typer.Option(False, "--manifest", help="The manifest schema instead."),
    path_only: bool = typer.Option(False, "--path", help="Print only the schema file's path."),
) -> None:
    """Print the published JSON Schema of suite files (or --manifest files).

    Point your editor's YAML plugin at the path (`--path`) to get completion and checks as you type.
    """
    p = S.schema_path("manifest" if manifest else "suite")
    if path_only:
        typer.echo(str(p))
        return
    typer.echo(p.read_text(encoding="utf-8"), nl=False)


_GENERATE_HELP = (
    "Write a suite for a claim with a model, filter every candidate, and validate the result.\n\n"
    "The model (the embedded one unless --base-url/--model) writes direct questions, negated "
    "questions and requests. Filters, each counted: form (3-30 words; questions end with '?'; "
    "requests are not ability questions), exact duplicates and near duplicates (TF-IDF cosine >= "
    "--threshold, default 0.65) against each other and every prompt of --against, and framing (the "
    "model is asked whether a 'yes' affirms or denies the claim: a question framed the other way "
    "is dropped, or moved to the right list with --move-misframed; one that does neither is "
    "dropped). The file is marked `generated: {model, date, "
    "seed}` for review and validated like any suite.\n\n"
    'Example: behaviordbg suites generate --claim "The assistant can order groceries" '
    "--id can_order_groceries --truth false --n 12 --out groceries.yaml"
)


@suites_app.command("generate", help=_GENERATE_HELP)
def generate(
    claim: str = typer.Option(..., "--claim", help="The claim, as a statement about the assistant."),
    claim_id: str = typer.Option(..., "--id", help="The claim id (lowercase, digits, _)."),
    capability: str | None = typer.Option(None, "--capability",
                                          help="Manifest key that decides the claim's truth."),
    truth: str | None = typer.Option(None, "--truth",
                                     help="true or false: the default for a plain chat model."),
    n: int = typer.Option(12, "--n", help="Prompts wanted: half direct, a quarter negated, the"
                                          " rest requests."),
    out: str | None = typer.Option(None, "--out", "-o",
                                   help="Suite file to write (default: ID.generated.yaml)."),
    against: list[str] | None = typer.Option(
        None, "--against", help="Suites whose prompts candidates must not repeat (default:"
                                " the shipped probes/)."),
    base_url: str | None = typer.Option(None, "--base-url",
                                        help="OpenAI-compatible endpoint of the writing model."),
    model: str | None = typer.Option(None, "--model", help="Its model id."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="Environment variable holding its API key."),
    seed: int | None = typer.Option(0, "--seed", help="Sent to the model; recorded in the file."),
    threshold: float = typer.Option(0.65, "--threshold",
                                    help="Near-duplicate TF-IDF cosine (0-1)."),
    suite: str | None = typer.Option(None, "--suite", help="Suite name (default generated_ID)."),
    move_misframed: bool = typer.Option(
        False, "--move-misframed",
        help="A question whose 'yes' turns out to mean the opposite goes to the other question"
             " list instead of being dropped."),
    as_json: bool = JsonOption,
) -> None:
    """Generate a suite; see _GENERATE_HELP."""
    from pathlib import Path

    from ..errors import BehaviordbgError
    from ..pipeline.generate import GenerateOptions, generate_suite
    from ._common import StageProgress, console, escape, fail

    try:
        if truth not in (None, "true", "false"):
            raise BehaviordbgError(f"--truth {truth!r} is not true or false",
                                   hint="pass --truth true, --truth false, or leave it open")
        opts = GenerateOptions(
            claim=claim, claim_id=claim_id, capability=capability,
            truth=None if truth is None else truth == "true", n=n, base_url=base_url, model=model,
            api_key_env=api_key_env, seed=seed, existing=tuple(against) if against else None,
            suite=suite, threshold=threshold, move_misframed=move_misframed)
        target = Path(out or f"{claim_id}.generated.yaml")
        if not target.parent.is_dir():
            raise BehaviordbgError(f"folder {target.parent} does not exist",
                                   hint="create it first, or choose another --out")
        gen = generate_suite(opts, None if as_json else StageProgress("checking framing"))
    except BehaviordbgError as err:
        raise fail(err, as_json=as_json) from err
    target.write_text(gen.yaml, encoding="utf-8")
    try:
        S.load_suites([str(target)])
    except S.SuiteErrors as exc:
        _fail(exc.errors, as_json)
    except SuiteError as exc:
        _fail([exc], as_json)
    doc = {"ok": True, "path": str(target), **gen.to_dict()}
    if as_json:
        emit_json(doc)
        return
    for w in gen.warnings:
        console.print(f"[bold yellow]warning:[/] {escape(w)}", markup=True)
    removed = ", ".join(f"{k} {v}" for k, v in doc["removed"].items())
    console.print(f"wrote {escape(str(target))}: kept {escape(str(doc['kept']))} of"
                  f" {escape(str(doc['written']))} written; removed by filter: {escape(removed)};"
                  f" moved to the other question list: {doc['moved']}")
    console.print(f"review it, then: behaviordbg suites validate {escape(str(target))}")


_AUGMENT_HELP = (
    "Add generated paraphrases to the claims of a suite file, filtered like `generate`.\n\n"
    "For each claim (or each --claim) the model writes new direct and negated questions and "
    "requests, shown the claim's prompts so it writes different ones; the same form, duplicate, "
    "near-duplicate (against every loaded prompt and each other) and framing filters apply, each "
    "counted. The result keeps the file's claims and rules, lists every added prompt under "
    "`generated.prompts` for review, and is validated with the other suites of --against. The "
    "file's comments are not kept.\n\n"
    "Example: behaviordbg suites augment probes/tools.yaml --claim can_set_alarms --n 4 "
    "--out tools.augmented.yaml"
)


@suites_app.command("augment", help=_AUGMENT_HELP)
def augment(
    path: str = typer.Argument(..., help="The suite file to augment."),
    n: int = typer.Option(4, "--n", help="New prompts per claim (half direct, a quarter"
                                         " negated, the rest requests)."),
    claims: list[str] | None = typer.Option(None, "--claim", help="Only these claims."),
    out: str | None = typer.Option(
        None, "--out", "-o", help="File to write (default: NAME.augmented.yaml in the current"
                                  " folder; not next to the original, or loading that folder would"
                                  " see every claim twice)."),
    in_place: bool = typer.Option(False, "--in-place", help="Replace the file itself."),
    against: list[str] | None = typer.Option(
        None, "--against", help="The other suites (rules, duplicates; default: probes/)."),
    base_url: str | None = typer.Option(None, "--base-url",
                                        help="OpenAI-compatible endpoint of the writing model."),
    model: str | None = typer.Option(None, "--model", help="Its model id."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env",
                                    help="Environment variable holding its API key."),
    seed: int | None = typer.Option(0, "--seed", help="Sent to the model; recorded in the file."),
    threshold: float = typer.Option(0.65, "--threshold",
                                    help="Near-duplicate TF-IDF cosine (0-1)."),
    move_misframed: bool = typer.Option(
        False, "--move-misframed",
        help="A question whose 'yes' turns out to mean the opposite goes to the other question"
             " list instead of being dropped."),
    as_json: bool = JsonOption,
) -> None:
    """Augment a suite; see _AUGMENT_HELP."""
    from pathlib import Path

    from ..errors import BehaviordbgError
    from ..pipeline.generate import AugmentOptions, augment_suite
    from ._common import StageProgress, console, escape, fail

    try:
        if in_place and out:
            raise BehaviordbgError("--in-place and --out exclude each other", hint="pass one")
        opts = AugmentOptions(path=path, n=n, claims=tuple(claims or ()), base_url=base_url,
                              model=model, api_key_env=api_key_env, seed=seed,
                              against=tuple(against) if against else None, threshold=threshold,
                              move_misframed=move_misframed)
        stem = Path(path).name.rsplit(".", 1)[0]
        target = Path(path) if in_place else Path(out or f"{stem}.augmented.yaml")
        if not target.parent.is_dir():
            raise BehaviordbgError(f"folder {target.parent} does not exist",
                                   hint="create it first, or choose another --out")
        aug = augment_suite(opts, None if as_json else StageProgress("checking framing"))
    except BehaviordbgError as err:
        raise fail(err, as_json=as_json) from err
    target.write_text(aug.yaml, encoding="utf-8")
    mine = target.resolve()
    try:
        S.load_suites([*(c for c in aug.companions if Path(c) != mine), str(target)])
    except S.SuiteErrors as exc:
        _fail(exc.errors, as_json)
    except SuiteError as exc:
        _fail([exc], as_json)
    doc = {"ok": True, "path": str(target), **aug.to_dict()}
    if as_json:
        emit_json(doc)
        return
    for w in aug.warnings:
        console.print(f"[bold yellow]warning:[/] {escape(w)}", markup=True)
    added = sum(len(v) for d in aug.added.values() for v in d.values())
    removed = ", ".join(f"{k} {v}" for k, v in doc["removed"].items())
    console.print(f"wrote {escape(str(target))}: {added} prompt(s) added to {len(aug.added)}"
                  f" claim(s); removed by filter: {escape(removed)}; moved: {doc['moved']}")


@suites_app.command("prompt")
def prompt(
    paths: list[str] | None = PathsArg,
    manifest: str | None = ManifestOption,
    as_json: bool = JsonOption,
) -> None:
    """Print the system prompt `check --prompted-baseline` sends, made from the manifest, and
    its sha256: review it before a run, or copy it into the deployment once it fixes the bugs.

    Example: `behaviordbg suites prompt --manifest agent-with-tools > prompt.txt`, edit it, then
    `behaviordbg check --prompted-baseline --baseline-prompt prompt.txt`. The template:
    docs/prompted-baseline.md.
    """
    from ..suites.baseline_prompt import manifest_prompt

    suites, man = _load(paths, manifest, as_json)
    p = manifest_prompt(man, suites)
    if as_json:
        emit_json({"text": p.text, "sha256": p.sha256, "source": p.source})
        return
    typer.echo(p.text)
    typer.echo(f"# sha256 {p.sha256} ({p.source})", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(suites_app, name="suites")
