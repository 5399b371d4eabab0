"""Unit level: the baseline prompt's template and hash, the --baseline-prompt file checks, the
prompted suites, the run_links table (migration 0009_run_links) and the verdict records."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from behaviordbg.errors import BehaviordbgError
from behaviordbg.prompting import VERDICT_LABELS, PromptVerdict
from behaviordbg.store import Store
from behaviordbg.store.schema import MIGRATIONS
from behaviordbg.suites import load_manifest, load_suites
from behaviordbg.suites.baseline_prompt import (
    CAPABILITY_PHRASES,
    baseline_prompt,
    manifest_prompt,
    prompted_suites,
    read_prompt_file,
    render_manifest_prompt,
)
from behaviordbg.suites.manifests import DEFAULT_CAPABILITIES
from behaviordbg.types import GenParams, Manifest

REPO = Path(__file__).resolve().parents[1]
PROBES = REPO / "probes"


def test_chat_prompt_lists_every_limit_and_no_ability() -> None:
    text = render_manifest_prompt(load_manifest(None), load_suites([PROBES]))
    assert "You can:" not in text
    cannot = text.split("You cannot:", 1)[1]
    for key in DEFAULT_CAPABILITIES:  # every shipped capability has words, and they are listed
        assert f"- {CAPABILITY_PHRASES[key]}\n" in cannot
    assert text.startswith('You are deployed as "chat".')
    assert text.endswith("and never pretend to have done it.")


def test_agent_prompt_splits_can_and_cannot() -> None:
    agent = load_manifest("agent-with-tools")
    text = render_manifest_prompt(agent)
    can, cannot = text.split("You can:", 1)[1].split("You cannot:", 1)
    assert CAPABILITY_PHRASES["browsing"] in can and CAPABILITY_PHRASES["browsing"] not in cannot
    assert CAPABILITY_PHRASES["payments"] in cannot and CAPABILITY_PHRASES["payments"] not in can


def test_hash_is_the_sha256_of_the_text_and_independent_of_key_order() -> None:
    caps = {"browsing": True, "memory": False, "clock": True}
    a = manifest_prompt(Manifest("m", dict(caps)))
    b = manifest_prompt(Manifest("m", dict(reversed(list(caps.items())))))
    assert a == b and a.sha256 == hashlib.sha256(a.text.encode()).hexdigest()
    assert a.source == "manifest:m" and re.fullmatch(r"[0-9a-f]{64}", a.sha256)
    assert manifest_prompt(Manifest("m", {**caps, "memory": True})).sha256 != a.sha256


def test_unknown_keys_and_claim_truths_are_described() -> None:
    suites = load_suites([PROBES])
    m = Manifest("custom", {"teleport": False}, claim_truth={"has_a_name": False})
    text = render_manifest_prompt(m, suites)
    assert "- use teleport" in text
    assert "\n\nFacts about you:\n- False: The assistant has a name of its own.\n\n" in text


def test_prompt_file_override_and_its_errors(tmp_path: Path) -> None:
    f = tmp_path / "p.txt"
    f.write_text("\n  You cannot browse.  \n", encoding="utf-8")
    p = baseline_prompt(load_manifest(None), (), f)
    assert p.text == "You cannot browse." and p.source == str(f)
    assert p.sha256 == hashlib.sha256(b"You cannot browse.").hexdigest()
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\t")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00x")
    huge = tmp_path / "huge.txt"
    huge.write_text("x" * 70_000)
    for path, words in ((tmp_path / "nope.txt", "no such file"), (empty, "is empty"),
                        (tmp_path, "is a folder"), (binary, "not UTF-8"),
                        (huge, "more than")):
        with pytest.raises(BehaviordbgError) as err:
            read_prompt_file(path)
        assert words in str(err.value) and str(path) in str(err.value)
        assert err.value.hint  # the fix is named


def test_prompted_suites_put_the_prompt_first() -> None:
    suites = load_suites([PROBES])
    out = prompted_suites(suites, "PROMPT")
    for before, after in zip(suites, out):
        assert after.claims == before.claims and after.rules == before.rules
        assert after.system_prompt == f"PROMPT\n\n{before.system_prompt}"
    bare = prompted_suites([suites[0].__class__(**{**suites[0].__dict__, "system_prompt": None})],
                           "PROMPT")
    assert bare[0].system_prompt == "PROMPT"


def test_run_links_table_from_either_side(tmp_path: Path) -> None:
    assert "0009_run_links" in [name for name, _ in MIGRATIONS]
    with Store.open(tmp_path / "l.db") as store:
        assert "0009_run_links" in store.applied_migrations()
        params = GenParams(model="m", base_url="http://h/v1")
        a = store.create_run(params, [])
        b = store.create_run(params, [])
        c = store.create_run(params, [])
        assert store.run_link(a) is None
        store.link_prompted_run(a, b, prompt_text="T", prompt_sha256="0" * 64,
                                prompt_source="manifest:chat")
        for side in (a, b):
            link = store.run_link(side)
            assert link is not None and (link["base_run_id"], link["run_id"]) == (a, b)
            assert link["prompt_text"] == "T" and link["kind"] == "prompted_baseline"
        assert store.run_link(c) is None
        assert store.linked_run_ids() == {a: b, b: a}


def test_verdict_records_read_as_words() -> None:
    v = PromptVerdict("bdbg-1", "manifest", "t", "high", "reduced", 1.0, 0.4, (10, 0), (4, 6),
                      0.005)
    assert v.label == VERDICT_LABELS["reduced"] and v.survives_prompting
    assert v.describe() == ("reduced by prompting: rate 100% (10/10) as configured -> 40% (4/10)"
                            " under the prompt, p=0.005")
    d = v.to_dict()
    assert d["verdict"] == "reduced" and d["counts_prompted"] == [4, 6]
    assert not PromptVerdict("x", "k", "t", "low", "fixed", 1.0, 0.0, (5, 0), (0, 5),
                             0.01).survives_prompting


def test_docs_show_the_template_as_it_renders() -> None:
    """docs/prompted-baseline.md quotes the chat manifest's prompt and hash: they must be what the
    code makes, or the documented template lies."""
    doc = (REPO / "docs" / "prompted-baseline.md").read_text(encoding="utf-8")
    p = manifest_prompt(load_manifest(None), load_suites([PROBES]))
    assert f"```text\n{p.text}\n```" in doc and p.sha256 in doc
    loop = (REPO / "docs" / "fix-loop.md").read_text(encoding="utf-8")
    steps = [loop.index(f"## {i}. {name}") for i, name in
             enumerate(("Find", "Prompt", "Train", "Verify"), 1)]
    assert steps == sorted(steps) and "--prompted-baseline" in loop


def test_a_read_only_database_from_before_run_links_has_no_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database made before 0009 that cannot be migrated (read-only) reads as having no
    prompted baselines, instead of failing on the missing table."""
    import sqlite3

    from behaviordbg.store import connection

    db = tmp_path / "old.db"
    with Store.open(db) as store:
        run = store.create_run(GenParams(model="m", base_url="http://h/v1"), [])
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE run_links")
        conn.execute("DELETE FROM migrations WHERE name = '0009_run_links'")
    monkeypatch.setattr(connection, "_writable", lambda path: False)  # as for a read-only file
    with Store.open(db, readonly=True) as store:
        assert not store.has_table("run_links")
        assert store.run_link(run) is None and store.linked_run_ids() == {}


def test_suites_prompt_prints_the_prompt_and_its_hash() -> None:
    import json

    from typer.testing import CliRunner

    from behaviordbg.cli import app

    res = CliRunner().invoke(app, ["suites", "prompt", "--manifest", "agent-with-tools", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output.strip().splitlines()[-1])
    p = manifest_prompt(load_manifest("agent-with-tools"), load_suites([PROBES]))
    assert doc == {"text": p.text, "sha256": p.sha256, "source": "manifest:agent-with-tools"}
    res = CliRunner().invoke(app, ["suites", "prompt"])
    assert res.exit_code == 0 and res.output.startswith('You are deployed as "chat".')
