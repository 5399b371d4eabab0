"""Ticket exports: one module per format, all rendering the same plain payload.

`build_payload(store, run_id)` gathers a run's bugs (newest analysis) with their triage status and
history into plain data; `render(fmt, payload)` is a pure function per format; `export_bugs` ties
the two together and writes the file. Nothing is sent anywhere.

Only whitelisted run fields reach an export: a run's params may carry options that are nobody's
business in a ticket (and must never carry keys, but we do not rely on that).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BehaviordbgError
from ..store import Store, now_iso
from ..suites.expand import claim_lines
from ..types import to_dict
from . import github, jira_csv, json_export, junit, labels, markdown, sarif


class ExportError(BehaviordbgError):
    """The export cannot be written as asked (unknown format, unsafe path)."""


@dataclass(frozen=True)
class Format:
    name: str
    render: Callable[[dict[str, Any]], str]
    suffix: str
    help: str


FORMATS: dict[str, Format] = {
    "json": Format("json", json_export.render, ".json", "the analysis schema plus status and history"),
    "markdown": Format("markdown", markdown.render, ".md", "one paste-ready ticket per bug"),
    "github": Format("github", github.render, ".json", "payloads for POST /repos/{o}/{r}/issues"),
    "jira-csv": Format("jira-csv", jira_csv.render, ".csv", "Jira CSV importer columns"),
    "junit": Format("junit", junit.render, ".xml", "JUnit XML: a failing testcase per bug"),
    "sarif": Format("sarif", sarif.render, ".sarif", "SARIF 2.1.0, one result per bug"),
}

CANDIDATE_PREFIX = "[candidate] "
RUN_FIELDS = ("id", "created_at", "finished_at", "status", "model", "label")
PARAM_FIELDS = ("temperature", "max_tokens", "top_p", "seed")


def render(fmt: str, payload: dict[str, Any]) -> str:
    """Render a payload in one format (pure: no I/O)."""
    return _format(fmt).render(payload)


def _format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}",
                          f"use one of: {', '.join([*FORMATS, LABELS_FORMAT])}")
    return FORMATS[fmt]


def build_payload(
    store: Store, run_id: str, *, candidates: bool = False,
    fingerprints: Sequence[str] | None = None, survives_prompting: bool = False,
) -> dict[str, Any]:
    """A run's bugs as plain data: {run: {...whitelisted}, claims: [...], bugs: [...]}.

    `candidates`: also the contradictions held back for weak evidence, after the bugs, each with
    candidate=true and the reason in evidence_note (a candidate has no triage record unless its
    fingerprint is a known bug). `fingerprints`: only these bugs (the dashboard exports a
    selection), at a cost that does not grow with the run's size. A run with a prompted twin gives
    every bug its verdict (`prompting`, behaviordbg.prompting); `survives_prompting` keeps only
    the bugs a prompt did not fix (verdict survives or reduced)."""
    from ..prompting import STILL_THERE, require_comparison, verdict_fields

    if survives_prompting:
        require_comparison(store, run_id)
    comparison, verdicts = verdict_fields(store, run_id)
    analysis = store.require_analysis(run_id)
    run = store.get_run(analysis["run_id"])
    params = run.get("params") or {}
    suites = [
        {k: str(s.get(k, "")) for k in ("name", "path", "sha256")}
        for s in (run.get("suites") or []) if isinstance(s, dict)
    ]
    public = {k: run.get(k) for k in RUN_FIELDS}
    public.update({"run_id": run["id"], "judge": analysis["judge"], "analysis_id": analysis["id"],
                   "params": {k: params.get(k) for k in PARAM_FIELDS}, "suites": suites,
                   "exported_at": now_iso()})
    del public["id"]
    bugs = []
    found = (store.bugs_for_analysis(analysis["id"]) if fingerprints is None
             else [store.bug_occurrence(analysis["id"], fp) for fp in dict.fromkeys(fingerprints)])
    for bug in found:
        rec = store.get_bug(bug.fingerprint)
        d = to_dict(bug)
        d.update({k: rec[k] for k in ("status", "assignee", "labels", "notes", "first_seen_run",
                                      "last_seen_run")})
        d["regression"] = bool(rec["regression"])
        d["history"] = [
            {k: h[k] for k in ("at", "field", "old", "new", "note", "run_id", "actor")}
            for h in store.bug_history(bug.fingerprint)
        ]
        bugs.append(d)
    if candidates:
        for cand in store.candidates_for_analysis(analysis["id"]):
            d = to_dict(cand)
            d["title"] = CANDIDATE_PREFIX + d["title"]  # every format shows what it is
            known = store.find_bug(cand.fingerprint)
            d.update({"status": known["status"] if known else cand.status,
                      "assignee": known["assignee"] if known else None,
                      "labels": known["labels"] if known else [],
                      "notes": known["notes"] if known else "",
                      "first_seen_run": known["first_seen_run"] if known else None,
                      "last_seen_run": known["last_seen_run"] if known else None,
                      "regression": False, "history": []})
            bugs.append(d)
    for d in bugs:
        d["prompting"] = verdicts.get(d["fingerprint"])
    if survives_prompting:
        bugs = [d for d in bugs if d["prompting"] and d["prompting"]["verdict"] in STILL_THERE]
    if comparison is not None:
        public["prompted_baseline"] = {k: comparison.to_dict()[k] for k in (
            "base_run", "prompted_run", "prompt_sha256", "prompt_source", "summary")}
    return {"run": public, "claims": _claims(store, run["id"], analysis["id"], suites),
            "bugs": bugs}


def _claims(store: Store, run_id: str, analysis_id: str, suites: list[dict[str, str]]
            ) -> list[dict[str, Any]]:
    """Probed claims with answer counts and where they are defined (suite file, line)."""
    suite_of = store.claim_suites(run_id)
    path_of = {s["name"]: s["path"] for s in suites}
    totals: dict[str, dict[str, int]] = {}
    for d in store.analysis_distributions(analysis_id):
        t = totals.setdefault(d.claim_id, {"decisive": 0, "answers": 0})
        if d.framing != "all":
            t["decisive"] += d.decisive
            t["answers"] += d.total
    out = []
    for claim in sorted(set(totals) | set(suite_of)):
        suite = suite_of.get(claim, "")
        path = path_of.get(suite, "")
        line = claim_lines(path).get(claim) if path else None
        out.append({"id": claim, "suite": suite, "path": path, "line": line,
                    **totals.get(claim, {"decisive": 0, "answers": 0})})
    return out


def safe_out_path(out_path: str | Path, base_dir: str | Path | None = None) -> Path:
    """Resolve the output path; with base_dir, refuse anything outside it (.., absolute, links)."""
    raw = Path(out_path)
    if str(out_path).strip() == "":
        raise ExportError("empty --out path", "pass a file name, e.g. --out bugs.md")
    if base_dir is not None:
        base = Path(base_dir).resolve()
        target = (raw if raw.is_absolute() else base / raw).resolve()
        if target != base and base not in target.parents:
            raise ExportError(
                f"export path {str(out_path)!r} resolves to {target}, outside {base}",
                "choose a file inside the --base-dir folder (no '..', no absolute path elsewhere)",
            )
    else:
        target = raw.resolve()
    if target.is_dir():
        raise ExportError(f"export path {target} is a directory", "pass a file name for --out")
    if not target.parent.is_dir():
        raise ExportError(f"folder {target.parent} does not exist",
                          f"create it first (mkdir -p {target.parent}) or choose another --out")
    return target


def export_bugs(
    store: Store,
    run_id: str,
    fmt: str,
    out_path: str | Path,
    *,
    base_dir: str | Path | None = None,
    gh_commands: bool = False,
    candidates: bool = False,
    survives_prompting: bool = False,
) -> Path:
    """Write a run's bugs in one format; with gh_commands (github only) also write issue bodies and
    a shell script of `gh issue create` lines next to the output. Returns the file written."""
    if fmt == LABELS_FORMAT:
        if gh_commands or candidates:
            raise ExportError("--gh-commands and --candidates do not apply to --format labels",
                              "drop them: a labels export is the labelled answers of the run")
        target = safe_out_path(out_path, base_dir)
        target.write_text(labels.render(label_rows(store, run_id)), encoding="utf-8", newline="")
        return target
    spec = _format(fmt)
    if gh_commands and fmt != "github":
        raise ExportError("--gh-commands only applies to --format github",
                          "add --format github, or drop --gh-commands")
    target = safe_out_path(out_path, base_dir)
    payload = build_payload(store, run_id, candidates=candidates,
                            survives_prompting=survives_prompting)
    if gh_commands and base_dir is not None:  # bodies and script too, before anything is written
        for path in github.gh_paths(payload, target):
            _inside(path, Path(base_dir).resolve())
    target.write_text(spec.render(payload), encoding="utf-8", newline="")
    if gh_commands:
        github.write_gh_commands(payload, target, no_symlinks=base_dir is not None)
    return target


LABELS_FORMAT = "labels"
LABELS_HELP = ("people's stance labels of the run's answers as JSONL, the records `behaviordbg"
               " judge` reads (eval/ sets; `label --from` reads it back)")


def label_rows(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The labels in force on a run's answers (by the matching rule), one row per answer."""
    run = store.get_run(run_id)
    answers = list(store.iter_answers(run["id"]))
    found = store.labels_for_answers(answers)
    texts: dict[str, tuple[str, str | None]] = {}
    for ref in run.get("suites") or []:
        for c in ((ref.get("snapshot") or {}).get("claims") or []) if isinstance(ref, dict) else []:
            texts[str(c.get("id"))] = (str(c.get("text") or ""), c.get("identity"))
    rows = []
    for a in answers:
        lab = found.get(a.response_id)
        if lab is None:
            continue
        text, identity = texts.get(a.claim_id, ("", None))
        rows.append({"id": a.response_id, "claim": lab["claim"] or text or a.claim_id,
                     "claim_id": a.claim_id, "identity": lab["identity"] or identity,
                     "framing": a.framing, "prompt": a.prompt, "response": a.text,
                     "label": lab["stance"], "note": lab["note"], "author": lab["author"],
                     "labelled_at": lab["created_at"], "group": a.claim_id,
                     "run_id": a.run_id, "model": run["model"]})
    return rows


def _inside(path: Path, base: Path) -> None:
    """Refuse a path that resolves (through symbolic links) outside the --base-dir folder."""
    resolved = path.resolve()
    if resolved != base and base not in resolved.parents:
        raise ExportError(
            f"export path {path} resolves to {resolved}, outside {base}",
            "remove the symbolic link, or choose an --out inside the --base-dir folder",
        )


def gh_script_path(out: Path) -> Path:
    """Where `export_bugs(..., gh_commands=True)` writes the `gh issue create` lines."""
    return github.script_path(out)
