"""`behaviordbg report RUN --out report.html`: one self-contained HTML page anyone can open.

No server and no network: the styles are inline, the contradiction graph is an inline SVG (a
networkx spring layout of the claims, one node per claim in the graph), the per-claim stance
charts are plain HTML bars, and nothing is loaded from elsewhere (no script, font or image URL).
Every text from the model, a suite or the database goes through `html.escape` (after
`escape.strip_controls`), in element text and attribute values alike, so an answer cannot add a
tag, a script or an attribute.

It reads through the store's read models (the newest analysis of the run, its stance
distributions, its contradictions grouped by claims and kind, its bugs and candidates). With a
baseline run (`--baseline RUN`) it adds the run diff of `behaviordbg diff` (behaviordbg.diff):
new, resolved, not reproduced, changed and persisting bugs, rates with Fisher's test.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from .escape import clip, strip_controls
from .store import Store
from .store.records import ContradictionGroup
from .types import Bug, StanceDistribution, shown_answer, turns_heading

ANSWER_LIMIT = 4_000  # an answer or prompt shown in full; longer ones say the json export has it
EVIDENCE_PER_BUG = 6
SVG_W, SVG_H, MARGIN = 900, 560, 70
STANCE_COLOURS = {"affirm": "#2e7d32", "deny": "#c62828", "unclear": "#9e9e9e",
                  "refuse": "#6a1b9a", "error": "#ef6c00"}
KIND_COLOURS = {"unstable": "#8d6e63", "paraphrase": "#f9a825", "say_do": "#d84315",
                "rule": "#1565c0", "manifest": "#ad1457", "caves": "#00838f",
                "value_conflict": "#6d4c41",
                "fabricated_action": "#6a1b9a"}
SEVERITY_COLOURS = {"critical": "#b71c1c", "high": "#e53935", "medium": "#fb8c00", "low": "#757575"}

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;
vertical-align:top}
.bar{display:flex;height:14px;width:360px;border:1px solid #ccc}.bar span{display:block;height:100%}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:.5rem;margin:.2rem 0}
.bug{border:1px solid #ddd;border-left:6px solid #999;padding:.5rem 1rem;margin:1rem 0}
.sev{color:#fff;border-radius:3px;padding:0 .4rem;font-weight:600}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
code{background:#f0f0f0;padding:0 .2rem}
"""


def esc(text: object) -> str:
    """Untrusted text for HTML element text or a quoted attribute value."""
    return html.escape(strip_controls(str(text)), quote=True)


def _layout(claims: list[str], edges: list[tuple[str, str]]) -> Mapping[str, tuple[float, float]]:
    """Claim positions in SVG pixels (networkx spring layout, seeded: the same run, the same picture)."""
    import networkx as nx

    g: nx.Graph[str] = nx.Graph()
    g.add_nodes_from(claims)
    g.add_edges_from(edges)
    if len(g) == 0:
        return {}
    if len(g) == 1:
        return {claims[0]: (SVG_W / 2, SVG_H / 2)}
    pos = nx.spring_layout(g, seed=7, k=2.5 / math.sqrt(len(g)))
    xs = [float(p[0]) for p in pos.values()]
    ys = [float(p[1]) for p in pos.values()]
    span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    return {c: (MARGIN + (float(pos[c][0]) - min(xs)) / span_x * (SVG_W - 2 * MARGIN),
                MARGIN + (float(pos[c][1]) - min(ys)) / span_y * (SVG_H - 2 * MARGIN))
            for c in claims}


def graph_svg(dists: Mapping[str, StanceDistribution], groups: list[ContradictionGroup]) -> str:
    """The contradiction graph: a node per claim (coloured by the share of answers affirming it),
    an edge per multi-claim contradiction group (coloured by kind), and on each node the count
    of its single-claim contradictions."""
    claims = set(dists)
    for grp in groups:
        claims.update(grp["claims"])
    ordered = sorted(claims)
    edges = [(a, b) for grp in groups for a, b in zip(grp["claims"], grp["claims"][1:])]
    pos = _layout(ordered, edges)
    own: dict[str, int] = {c: 0 for c in ordered}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SVG_W} {SVG_H}"'
             f' width="100%" style="max-width:{SVG_W}px" role="img" aria-label="contradiction graph">']
    for grp in groups:
        cl, kind = grp["claims"], grp["kind"]
        if len(cl) == 1:
            own[cl[0]] = own.get(cl[0], 0) + grp["count"]
            continue
        colour = KIND_COLOURS.get(kind, "#555")
        for a, b in zip(cl, cl[1:]):
            (x1, y1), (x2, y2) = pos[a], pos[b]
            parts.append(f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}"'
                         f' y2="{y2:.1f}" stroke="{colour}" stroke-width="3"><title>'
                         f'{esc(kind)}: {esc(" -> ".join(cl))} ({grp["count"]})</title></line>')
    for c in ordered:
        x, y = pos[c]
        d = dists.get(c)
        share = d.affirm / d.decisive if d is not None and d.decisive else None
        fill = "#bdbdbd" if share is None else (
            f"rgb({int(198 * (1 - share) + 46 * share)},{int(40 * (1 - share) + 125 * share)},"
            f"{int(40 * (1 - share) + 50 * share)})")
        tip = f"{c}: " + ("no decisive answers" if share is None else f"{share:.0%} affirm")
        if own.get(c):
            tip += f", {own[c]} contradictions on this claim alone"
        parts.append(
            f'<g class="claim" data-claim="{esc(c)}"><title>{esc(tip)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{12 + min(own.get(c, 0), 8) * 2}"'
            f' fill="{fill}" stroke="#333"/>'
            f'<text x="{x:.1f}" y="{y + 30 + min(own.get(c, 0), 8) * 2:.1f}" text-anchor="middle"'
            f' font-size="12">{esc(c)}</text>'
            + (f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11"'
               f' fill="#fff">{own[c]}</text>' if own.get(c) else "")
            + "</g>")
    parts.append("</svg>")
    return "".join(parts)


def stance_bars(dists: Mapping[str, StanceDistribution]) -> str:
    """One row per claim: its answers' stances as a stacked bar, with the counts."""
    rows = ["<table><tr><th>claim</th><th>stances</th><th>affirm</th><th>deny</th>"
            "<th>unclear</th><th>refuse</th><th>error</th></tr>"]
    for c in sorted(dists):
        d = dists[c]
        total = d.total or 1
        spans = "".join(
            f'<span title="{s} {getattr(d, s)}" style="width:{100 * getattr(d, s) / total:.1f}%;'
            f'background:{colour}"></span>'
            for s, colour in STANCE_COLOURS.items() if getattr(d, s))
        rows.append(f'<tr class="stance-row"><td><code>{esc(c)}</code></td>'
                    f'<td><div class="bar">{spans}</div></td><td>{d.affirm}</td><td>{d.deny}</td>'
                    f"<td>{d.unclear}</td><td>{d.refuse}</td><td>{d.error}</td></tr>")
    rows.append("</table>")
    legend = "".join(f'<span style="background:{c}"></span>{s}' for s, c in STANCE_COLOURS.items())
    return f'<p class="legend">{legend}</p>' + "".join(rows)


def bug_html(bug: Bug, prompting: str | None = None) -> str:
    """A bug with its evidence (every side's answers, in full up to ANSWER_LIMIT) and its repro;
    `prompting`: its prompted-baseline verdict in words, when the run has a prompted twin."""
    colour = SEVERITY_COLOURS.get(bug.severity, "#999")
    out = [f'<div class="bug" id="bug-{esc(bug.fingerprint)}" style="border-left-color:{colour}">',
           f'<h3><span class="sev" style="background:{colour}">{esc(bug.severity)}</span> '
           f"{esc(bug.title)}</h3>",
           f"<p><b>fingerprint</b> <code>{esc(bug.fingerprint)}</code> · <b>kind</b> {esc(bug.kind)}"
           f" · <b>status</b> {esc(bug.status)} · <b>rate</b> {bug.rate:.0%}"
           f" · <b>claims</b> {', '.join(f'<code>{esc(c)}</code>' for c in bug.claims)}"
           + ("" if bug.certain else " · rests on a single odd sample") + "</p>"]
    if bug.summary:
        out.append(f"<p>{esc(bug.summary)}</p>")
    if bug.witness:
        out.append(f"<p><b>witness</b> {esc(' -> '.join(bug.witness))}</p>")
    if bug.evidence_note:
        out.append(f"<p><b>evidence</b> {esc(bug.evidence_note)}</p>")
    if prompting:
        out.append(f"<p><b>prompted baseline</b> {esc(prompting)}</p>")
    out.append("<h4>Repro</h4><p>Send each prompt in a fresh conversation:</p>")
    out += [f"<pre>{esc(clip(p, ANSWER_LIMIT))}</pre>" for p in bug.repro]
    out.append("<h4>Evidence</h4><table><tr><th>side</th><th>stance</th><th>prompt</th>"
               "<th>answer</th></tr>")
    for ev in bug.evidence[:EVIDENCE_PER_BUG]:
        out.append(f"<tr><td>{esc(ev.side or '-')}</td><td>{esc(ev.stance)}"
                   f" ({ev.confidence:.2f})</td><td><pre>{esc(clip(ev.prompt, ANSWER_LIMIT))}</pre>"
                   f"</td><td><pre>{esc(clip(shown_answer(ev), ANSWER_LIMIT))}</pre></td></tr>")
    out.append("</table>")
    talks = [ev for ev in bug.evidence[:EVIDENCE_PER_BUG] if ev.turns]
    if talks:  # pushback (`caves`): each conversation that flipped, turn by turn
        out.append("<h4>Conversations, turn by turn</h4>")
        for ev in talks:
            rows = "".join(f"<tr><td>{'user' if role == 'user' else 'model'}</td>"
                           f"<td><pre>{esc(clip(text, ANSWER_LIMIT))}</pre></td></tr>"
                           for role, text in ev.turns)
            after = turns_heading(ev)
            out.append(f"<table>{rows}</table><p>{after}: {esc(ev.stance)}</p>")
    if len(bug.evidence) > EVIDENCE_PER_BUG:
        out.append(f"<p>... and {len(bug.evidence) - EVIDENCE_PER_BUG} more answers"
                   " (`behaviordbg export RUN --format json` has them all).</p>")
    out.append("</div>")
    return "\n".join(out)


CHANGE_GROUPS = (("new", "New"), ("resolved", "Resolved"), ("changed", "Changed"),
                 ("not_reproduced", "Not reproduced (inconclusive)"), ("persisting", "Persisting"))


def _rate(rate: float | None, counts: Any) -> str:
    return "-" if rate is None else f"{rate:.0%} ({counts[0]}/{counts[0] + counts[1]})"


def baseline_html(d: Mapping[str, Any], here: set[str]) -> str:
    """The run diff against a baseline (a `diff_runs(...).to_dict()`): a headline of counts and
    one table row per bug with its change, severity and rate in both runs, and Fisher's p.
    `here`: fingerprints this page shows in full, linked from the table."""
    summary = d["summary"]
    head = ", ".join(f"<b>{summary[g]}</b> {label.split(' (')[0].lower()}"
                     for g, label in CHANGE_GROUPS)
    out = [f'<div class="baseline"><p>Compared with the baseline run <code>{esc(d["run_a"])}</code>'
           f" (analysis <code>{esc(d['analysis_a'])}</code>): {head}. A bug is <b>resolved</b>"
           " only when its rate dropped significantly (Fisher's exact test, p &lt;"
           f" {d['alpha']:g}) on enough answers; otherwise it is <b>not reproduced</b>.</p>"]
    out += [f"<p><b>warning</b> {esc(w)}</p>" for w in d.get("warnings") or []]
    if not any(summary.values()):
        out.append("<p>Neither run has a bug.</p></div>")
        return "".join(out)
    out.append('<table class="diff"><tr><th>change</th><th>severity</th><th>kind</th>'
               "<th>title</th><th>rate: baseline &rarr; this run</th><th>p</th><th>fingerprint</th>"
               "<th>note</th></tr>")
    for group, label in CHANGE_GROUPS:
        for c in d[group]:
            title = esc(c["title"])
            if c["fingerprint"] in here:
                title = f'<a href="#bug-{esc(c["fingerprint"])}">{title}</a>'
            out.append(
                f'<tr class="change-{group}"><td>{esc(label)}</td>'
                f"<td>{esc(c['severity_a'] or '-')} &rarr; {esc(c['severity_b'] or '-')}</td>"
                f"<td>{esc(c['kind'])}</td><td>{title}</td>"
                f"<td>{esc(_rate(c['rate_a'], c['counts_a']))} &rarr;"
                f" {esc(_rate(c['rate_b'], c['counts_b']))}</td>"
                f"<td>{'-' if c['p_value'] is None else format(c['p_value'], '.3g')}</td>"
                f"<td><code>{esc(c['fingerprint'])}</code></td><td>{esc(c['note'])}</td></tr>")
    out.append("</table></div>")
    return "".join(out)


def render_report(store: Store, run_id: str, baseline: str | None = None) -> str:
    """The HTML page for a run's newest analysis; with `baseline`, its diff against that run."""
    analysis = store.require_analysis(run_id)
    run = store.get_run(analysis["run_id"])
    counts = store.counts(run["id"])
    dists = {d.claim_id: d for d in store.analysis_distributions(analysis["id"])
             if d.framing == "all"}
    groups = store.contradiction_groups(analysis["id"])
    bugs = store.bugs_for_analysis(analysis["id"])
    candidates = store.candidates_for_analysis(analysis["id"])
    by_sev: dict[str, int] = {}
    for b in bugs:
        by_sev[b.severity] = by_sev.get(b.severity, 0) + 1
    sev_text = ", ".join(f"{n} {s}" for s, n in by_sev.items()) or "none"
    summary = [
        ("run", run["id"]), ("model", run["model"]), ("endpoint", run["base_url"]),
        ("label", run["label"] or "-"), ("created", run["created_at"]), ("status", run["status"]),
        ("answers", f"{counts['responses']} of {counts['queries']} queries"
                    f" ({counts['errors']} failed)"),
        ("analysis", f"{analysis['id']} ({analysis['judge']} judge, {analysis['created_at']})"),
        ("claims", str(len(dists))), ("contradictions", str(sum(g["count"] for g in groups))),
        ("bugs", f"{len(bugs)} ({sev_text})"),
        ("candidates", f"{len(candidates)} held back (weak evidence, not bugs)"),
    ]
    from .prompting import compare_prompted

    prompted = compare_prompted(store, run["id"])  # a prompted twin: fixed by a prompt, or not?
    verdicts = {v.fingerprint: v.describe() for v in prompted.verdicts} if prompted else {}
    if prompted is not None:
        summary.append(("prompted baseline", prompted.summary_line()))
    kinds = "".join(f'<span style="background:{c}"></span>{k}' for k, c in KIND_COLOURS.items())
    compared = ""
    if baseline is not None:
        from .diff import diff_runs

        diff = diff_runs(store, baseline, run["id"]).to_dict()
        summary.append(("baseline", diff["run_a"]))
        compared = ("<h2>Changes since the baseline</h2>"
                    + baseline_html(diff, {b.fingerprint for b in bugs}))
    body = [
        f"<h1>behaviordbg report: {esc(run['model'])}</h1>",
        "<h2>Summary</h2><table>"
        + "".join(f"<tr><th>{k}</th><td>{esc(v)}</td></tr>" for k, v in summary) + "</table>",
        compared,
        "<h2>Bugs</h2>" + (
            "<table><tr><th>severity</th><th>kind</th><th>title</th><th>rate</th>"
            "<th>fingerprint</th><th>status</th></tr>"
            + "".join(f"<tr><td>{esc(b.severity)}</td><td>{esc(b.kind)}</td>"
                      f'<td><a href="#bug-{esc(b.fingerprint)}">{esc(b.title)}</a></td>'
                      f"<td>{b.rate:.0%}</td><td><code>{esc(b.fingerprint)}</code></td>"
                      f"<td>{esc(b.status)}</td></tr>" for b in bugs) + "</table>"
            if bugs else "<p>No bugs: no contradiction rests on solid verdicts.</p>"),
        "<h2>Contradiction graph</h2><p>A node per claim (green: its answers affirm it, red:"
        " they deny it; the number inside counts contradictions on that claim alone); an edge"
        " per contradiction between claims, coloured by kind:</p>"
        f'<p class="legend">{kinds}</p>' + graph_svg(dists, groups),
        "<h2>Stances per claim</h2>" + stance_bars(dists),
        "<h2>Every bug, with evidence and repro</h2>" + "\n".join(bug_html(b, verdicts.get(b.fingerprint))
                                                           for b in bugs),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>behaviordbg report {esc(run['id'])}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
