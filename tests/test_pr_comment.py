"""`behaviordbg diff A B --format markdown`: the pull-request comment. Parsed with markdown-it as
GitHub would render it; hostile titles and answers stay text; never over GitHub's limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.export.pr_comment import GITHUB_LIMIT, MARKER, render
from seed import seed_demo_db

HOSTILE = ("<script>alert(1)</script></details><img src=x onerror=alert(1)> [click](http://evil.example)"
           " ![i](http://evil.example/i.png) | a | b |\n# heading\n```\n</summary>")


def _html(md: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(md)


def _change(i: int, change: str, title: str = "[say_do] can_browse_web") -> dict[str, Any]:
    return {"fingerprint": f"{i:016x}", "kind": "say_do", "title": title, "change": change,
            "status": "new", "severity_a": None if change == "new" else "high",
            "severity_b": None if change == "resolved" else "high", "rate_a": 0.5, "rate_b": 0.25,
            "counts_a": (5, 5), "counts_b": (2, 6), "p_value": 0.03, "note": title}


def _diff(new: list[dict[str, Any]], resolved: list[dict[str, Any]] = (),  # type: ignore[assignment]
          persisting: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    d: dict[str, Any] = {"run_a": "run-a", "run_b": "run-b", "new": list(new),
                         "resolved": list(resolved), "not_reproduced": [],
                         "persisting": list(persisting), "changed": [], "alpha": 0.05,
                         "warnings": []}
    d["summary"] = {k: len(d[k]) for k in
                    ("new", "resolved", "not_reproduced", "persisting", "changed")}
    return d


def _bug(fp: str, answer: str, prompt: str = "Can you browse the web?") -> dict[str, Any]:
    ev = {"claim_id": "can_browse_web", "framing": "ask", "prompt": prompt, "response": answer,
          "stance": "affirm"}
    return {"fingerprint": fp, "repro": [prompt], "evidence": [ev, {**ev, "stance": "deny"}, ev]}


def test_cli_diff_markdown_is_a_compact_pr_comment(tmp_path: Path) -> None:
    info = seed_demo_db(tmp_path / "s.db")
    runner = CliRunner()
    args = ["diff", info.runs[0], info.runs[1], "--db", info.path]
    summary = json.loads(runner.invoke(app, [*args, "--json"]).stdout.splitlines()[-1])
    res = runner.invoke(app, [*args, "--format", "markdown"])
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert md.startswith(MARKER) and len(md) <= GITHUB_LIMIT
    s = summary["summary"]
    head = md.splitlines()[1]
    assert (f"{s['new']} new, {s['resolved']} resolved, {s['persisting']} persisting" in head
            and info.runs[0] in head and info.runs[1] in head)
    html = _html(md)
    assert "<details>" in html and "</details>" in html and "<summary>" in html
    tables = html.split("<table>")[1:]
    assert s["new"] > 0
    first = tables[0].split("</table>")[0]
    assert first.count("<tr>") == s["new"] + 1  # header + one row per new bug
    for c in summary["new"]:
        assert f"<code>{c['fingerprint']}</code>" in first
    # the new bugs' evidence (stored answers) is inside the collapsed section
    details = html.split("<details>", 1)[1]
    assert "Evidence of the new bugs" in details and "<pre><code" in details


def test_hostile_titles_and_answers_stay_text() -> None:
    new = [_change(1, "new", HOSTILE), _change(2, "new")]
    md = render(_diff(new, [_change(3, "resolved", HOSTILE)], [_change(4, "persisting", HOSTILE)]),
                {c["fingerprint"]: _bug(c["fingerprint"], HOSTILE, HOSTILE) for c in new})
    html = _html(md)
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "<h1>" not in html
    assert html.count("<details>") == 1 and html.count("</details>") == 1
    assert html.count("<summary>") == 1 and html.count("</summary>") == 1
    assert html.rstrip().endswith("</p>") and html.index("</details>") > html.index("Evidence of")
    tables = [t.split("</table>")[0] for t in html.split("<table>")[1:]]
    assert [t.count("<tr>") for t in tables] == [3, 2, 2]  # no pipe in a title broke a row
    assert all(row.count("<td>") == 5 for row in tables[0].split("<tr>")[2:])
    assert "&lt;script&gt;" in html  # shown, not run


def test_huge_answers_and_many_bugs_stay_within_githubs_limit() -> None:
    new = [_change(i, "new", "T" * 5_000) for i in range(3_000)]
    resolved = [_change(10_000 + i, "resolved") for i in range(2_000)]
    persisting = [_change(20_000 + i, "persisting") for i in range(2_000)]
    bugs = {c["fingerprint"]: _bug(c["fingerprint"], "A" * 200_000 + "```" * 50, "P" * 100_000)
            for c in new}
    md = render(_diff(new, resolved, persisting), bugs)
    assert len(md) <= GITHUB_LIMIT
    assert "left out to stay within GitHub's 65,536-character comment limit" in md
    html = _html(md)
    assert html.count("<details>") == 1 and html.count("</details>") == 1
    assert "3000 new, 2000 resolved, 2000 persisting" in md.splitlines()[1]


def test_one_huge_answer_is_clipped_not_dropped() -> None:
    new = [_change(1, "new")]
    md = render(_diff(new), {new[0]["fingerprint"]: _bug(new[0]["fingerprint"], "A" * 500_000)})
    assert len(md) < 10_000 and "more characters: see the json export" in md
    assert "left out" not in md


def test_markdown_and_json_exclude_each_other(tmp_path: Path) -> None:
    info = seed_demo_db(tmp_path / "s.db")
    res = CliRunner().invoke(app, ["diff", info.runs[0], info.runs[1], "--db", info.path,
                                   "--format", "markdown", "--json"])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["diff", info.runs[0], info.runs[1], "--db", info.path,
                                   "--format", "html"])
    assert res.exit_code == 2


def test_the_workflow_example_posts_the_comment(tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    docs = Path(__file__).resolve().parents[1] / "docs"
    steps = yaml.safe_load((docs / "github-actions-example.yml").read_text())["jobs"]["probes"]["steps"]
    by_name = {s.get("name"): s for s in steps}
    comment = by_name["Comment the diff against main on the pull request"]
    assert "--format markdown" in comment["run"] and "gh pr comment" in comment["run"]
    assert "GH_TOKEN" in comment["env"]
    names = [s.get("name") for s in steps]
    assert names.index("Remember the baseline run (main's last run, restored above)") < names.index(
        "Probe the model") < names.index("Comment the diff against main on the pull request")
    # the step's one-liner picks the newest run from `behaviordbg runs --json`
    snippet = by_name["Remember the baseline run (main's last run, restored above)"]["run"]
    code = snippet.split("python -c '", 1)[1].split("'", 1)[0]
    info = seed_demo_db(tmp_path / "s.db")
    runs = CliRunner().invoke(app, ["runs", "--json", "--db", info.path]).stdout.splitlines()[-1]
    out = subprocess.run([sys.executable, "-c", code], input=runs, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == info.runs[1]
