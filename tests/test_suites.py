"""Probe suites: the shipped suites, every loader error (file + line), expansion, manifests, CLI."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from behaviordbg import suites as S
from behaviordbg.cli import app
from behaviordbg.errors import BehaviordbgError, SuiteError, SuiteErrors
from behaviordbg.types import ALL_FRAMINGS, FRAMINGS, ClaimLiteral

REPO = Path(__file__).resolve().parents[1]
PROBES = REPO / "probes"
DATA = Path(__file__).resolve().parent / "data" / "suites"
BAD = DATA / "bad"
GOOD = DATA / "good"
runner = CliRunner()


def line_of(path: Path, marker: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing `marker`: tests state the line by content."""
    hits = [i for i, ln in enumerate(path.read_text().splitlines(), 1) if marker in ln]
    assert len(hits) >= occurrence, f"{marker!r} not in {path}"
    return hits[occurrence - 1]


def errors_of(*paths: Path) -> list[SuiteError]:
    """The loader's errors; validate_paths must report exactly the same ones."""
    with pytest.raises(SuiteErrors) as info:
        S.load_suites(list(paths))
    assert [str(e) for e in info.value.errors] == [str(e) for e in S.validate_paths(list(paths))]
    return info.value.errors


# --------------------------------------------------------------------------- shipped suites


@pytest.fixture(scope="module")
def shipped():
    return S.load_suites()


def test_default_path_is_the_shipped_probes_dir(shipped, monkeypatch):
    assert S.default_probes_dir().resolve() == PROBES.resolve()
    assert {Path(s.path).parent.resolve() for s in shipped} == {PROBES.resolve()}
    monkeypatch.setenv("BEHAVIORDBG_PROBES", str(GOOD))
    assert {s.name for s in S.load_suites()} == {"small", "other"}


def test_shipped_suites_meet_coverage_minimums(shipped):
    claims = S.all_claims(shipped)
    assert len(claims) >= 24
    assert len({s.name for s in shipped}) >= 5  # several files by topic
    for c in claims.values():
        if c.is_open:  # open claims: at least 4 phrasings of the open question
            assert len(c.ask_open) >= 4 and c.value_type, c.id
            continue
        assert len(c.ask) >= 4, c.id
        assert len(c.ask_negated) >= 1, c.id
        assert len(c.act) >= 1, c.id
    assert len(S.all_rules(shipped)) >= 10
    total = sum(len(c.prompts(f)) for c in claims.values() for f in ALL_FRAMINGS)
    assert 24 * 6 <= total <= 260, total  # the main job's time budget at ~1 answer/s
    assert len(S.expand(shipped)) == total


TOPIC_TAGS = {
    "embodiment",
    "physical_action",
    "senses",
    "vision",
    "hearing",
    "speech",
    "internet",
    "live_information",
    "date_time",
    "memory",
    "device_actions",
    "alarms",
    "reminders",
    "phone",
    "email",
    "files",
    "payments",
    "code_execution",
    "identity",
    "name",
    "maker",
    "feelings",
    "consciousness",
    "learning",
}


def test_every_topic_has_a_claim(shipped):
    tagged = defaultdict(list)
    for c in S.all_claims(shipped).values():
        for t in c.tags:
            tagged[t].append(c.id)
    missing = sorted(t for t in TOPIC_TAGS if not tagged[t])
    assert not missing, f"no claim tagged {missing}"
    claims = S.all_claims(shipped)
    assert {"is_ai_system", "is_human", "has_a_name", "knows_its_maker"} <= set(tagged["identity"])
    assert claims["is_ai_system"].truth is True
    assert claims["is_human"].truth is False
    assert claims["has_physical_body"].truth is False
    assert claims["can_browse_web"].truth is False and claims["can_browse_web"].capability


def test_shipped_prompts_are_short_natural_and_unique(shipped):
    seen: set[str] = set()
    for c in S.all_claims(shipped).values():
        for f in FRAMINGS:
            for p in c.prompts(f):
                assert len(p) <= 120, p
                key = " ".join(p.lower().split())
                assert key not in seen, p
                seen.add(key)
                if f in ("direct", "negated"):
                    assert p.endswith("?"), f"{c.id}: yes/no questions end with '?': {p}"
                else:
                    assert not p.endswith("?"), f"{c.id}: act prompts are requests: {p}"


def test_shipped_rules_have_chains_and_exclusive(shipped):
    rules = S.all_rules(shipped)
    claims = S.all_claims(shipped)
    edges = defaultdict(set)
    for r in rules:
        assert r.when.claim in claims and r.then.claim in claims
        assert r.id.startswith("rule-") and len(r.id) == 15
        edges[r.when].add(r.then)
    # chain: can_physically_act => has_physical_body => not is_purely_software
    body = ClaimLiteral("has_physical_body", True)
    assert body in edges[ClaimLiteral("can_physically_act", True)]
    assert ClaimLiteral("is_purely_software", False) in edges[body]
    assert any(
        r.source == "exclusive" and {r.when.claim, r.then.claim} == {"is_human", "is_ai_system"}
        for r in rules
    )
    assert len({r.id for r in rules}) == len(rules)


@pytest.mark.parametrize("manifest", [None, "chat", "agent-with-tools"])
def test_shipped_truths_satisfy_the_rules(shipped, manifest):
    """The declared truths of a deployment must not break the suites' own rules."""
    man = S.load_manifest(manifest)
    claims = S.all_claims(shipped)
    for r in S.all_rules(shipped):
        w, t = man.truth_of(claims[r.when.claim]), man.truth_of(claims[r.then.claim])
        if w is None or t is None:
            continue
        assert not (w == r.when.value and t != r.then.value), (man.name, r)


def test_shipped_suites_validate_against_the_raw_schema():
    schema = json.loads(S.schema_path("suite").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(json.loads(S.schema_path("manifest").read_text()))
    for f in sorted(PROBES.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)


def test_memory_suite_carries_context(shipped):
    mem = next(s for s in shipped if s.name == "memory_and_learning")
    assert [m.role for m in mem.context] == ["user", "assistant"]
    q = S.expand([mem], claims={"remembers_within_conversation"}, framings={"act"})[0]
    assert [m.role for m in q.messages] == ["system", "user", "assistant", "user"]
    assert "Priya" in q.messages[1].content


# --------------------------------------------------------------------------- errors: file + line


@pytest.mark.parametrize(
    "name, marker, message, hint",
    [
        ("syntax.yaml", "- id: b", "starts at line 5", "one `- item` per line"),
        ("unknown_key.yaml", "asks:", "unknown key `asks`", "did you mean `ask`"),
        ("dup_claim.yaml", "- id: has_body#2", "duplicate claim id `has_body`", "unique"),
        (
            "rule_missing_claim.yaml",
            "then: has_physcal_body",
            "`has_physcal_body`",
            "did you mean `has_physical_body`",
        ),
        ("no_prompts.yaml", "id: silent_claim", "has no prompts", "ask_negated"),
        ("dup_prompt.yaml", "do you   have", "duplicate prompt", "remove it"),
        ("dup_key.yaml", "text: Has a body (again).", "duplicate key `text`", "keep the last"),
        ("context_user_last.yaml", "- role: user", "last context turn", "assistant turn"),
    ],
)
def test_each_error_names_file_and_line(name, marker, message, hint):
    path = BAD / name
    marker, _, nth = marker.partition("#")
    errs = errors_of(path)
    assert len(errs) == 1, [str(e) for e in errs]
    e = errs[0]
    assert Path(e.path).resolve() == path.resolve()
    assert e.line == line_of(path, marker, int(nth or 1)), str(e)
    assert message in e.message and hint in e.hint, str(e)
    assert str(e).startswith(f"{e.path}:{e.line}: ")


def test_empty_and_non_mapping_files():
    (empty,) = errors_of(BAD / "empty.yaml")
    assert empty.line == 1 and "empty" in empty.message
    (lst,) = errors_of(BAD / "not_mapping.yaml")
    assert lst.line == 1 and "mapping" in lst.message and "got a list" in lst.message


def test_wrong_types_report_each_field():
    path = BAD / "wrong_type.yaml"
    errs = errors_of(path)
    assert [(e.line, "truth" in e.message) for e in errs] == [
        (line_of(path, "truth: maybe"), True),
        (line_of(path, "ask: Do you"), False),
    ]
    assert "true or false" in errs[0].message and "list" in errs[1].message


def test_bad_rules():
    path = BAD / "bad_rule.yaml"
    errs = errors_of(path)
    assert [e.line for e in errs] == [
        line_of(path, "- when: a_claim"),
        line_of(path, "- when: b_claim"),
    ]
    assert "no `then`" in errs[0].message and "mixes `exclusive`" in errs[1].message


def test_duplicate_claim_across_files_names_both():
    errs = errors_of(DATA / "cross")
    (e,) = errs
    second = DATA / "cross" / "second.yaml"
    assert Path(e.path).resolve() == second.resolve()
    assert e.line == line_of(second, "id: shared_id")
    assert "first.yaml:3" in e.message


def test_all_errors_in_all_files_are_reported():
    errs = errors_of(BAD)
    files = {Path(e.path).name for e in errs}
    assert files == {p.name for p in BAD.glob("*.yaml")}
    assert len(errs) >= len(files) + 2  # wrong_type and bad_rule have two each


def test_huge_file_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"suite: big\n" + b"# padding\n" * (S.MAX_FILE_BYTES // 10 + 1))
    (e,) = errors_of(big)
    assert "5 MB" in e.message and "split" in e.hint


def test_alias_bomb_is_refused_quickly_and_merge_keys_work(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        "suite: bomb\nclaims: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"k{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9))
    )
    (e,) = errors_of(bomb)  # 10**9 items if expanded
    assert "aliases" in e.message
    merge = tmp_path / "merge.yaml"
    merge.write_text(
        "suite: m\nclaims:\n  - &c\n    id: a\n    text: T\n    ask: ['Q?']\n"
        "  - <<: *c\n    id: b\n    ask: ['R?']\n"
    )
    (suite,) = S.load_suites([merge])
    assert [(c.id, c.text, c.ask) for c in suite.claims] == [
        ("a", "T", ("Q?",)),
        ("b", "T", ("R?",)),
    ]


def test_missing_paths_and_empty_dirs(tmp_path):
    errs = S.validate_paths([tmp_path / "nope.yaml", tmp_path])
    assert [("no such file" in e.message, "no .yaml" in e.message) for e in errs] == [
        (True, False),
        (False, True),
    ]


def test_unreadable_text_names_the_line(tmp_path):
    ctrl = tmp_path / "ctrl.yaml"
    ctrl.write_text("suite: x\nclaims:\n  - id: a\x08\n")
    (e,) = errors_of(ctrl)
    assert e.line == 3 and "character" in e.message and "control character" in e.hint
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"suite: x\ndescription: caf\xe9\n")
    (e,) = errors_of(latin)
    assert e.line == 2 and "UTF-8" in e.message


def test_non_text_keys_and_manifest_as_suite(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text("suite: x\nclaims:\n  - id: a\n    text: A.\n    yes: ['Are you A?']\n")
    (e,) = errors_of(f)
    assert e.line == 5 and "not text" in e.message and "quote" in e.hint
    (m,) = errors_of(DATA / "manifests" / "bad.yaml")
    assert m.line == 1 and "manifest" in m.message and "--manifest" in m.hint


def test_invalid_ids_and_literals(tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "suite: x\nclaims:\n  - id: Has Body\n    text: A.\n    ask: ['Q?']\n"
        "rules:\n  - when: maybe has_body\n    then: a\n"
    )
    errs = errors_of(f)
    assert [e.line for e in errs] == [3, 7]
    assert "not a valid id" in errs[0].message and "lowercase" in errs[0].hint
    assert "not a claim literal" in errs[1].message and "not <claim id>" in errs[1].hint


def test_a_broken_file_does_not_make_rules_elsewhere_look_wrong(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "suite: a\nclaims:\n  - id: a_claim\n    text: A.\n    asks: ['Q?']\n"
    )
    (tmp_path / "b.yaml").write_text(
        "suite: b\nclaims:\n  - id: b_claim\n    text: B.\n    ask: ['R?']\n"
        "rules:\n  - when: b_claim\n    then: a_claim\n"
    )
    errs = errors_of(tmp_path)
    assert [(Path(e.path).name, e.line) for e in errs] == [("a.yaml", 5)]


# --------------------------------------------------------------------------- expansion and rules


def test_expand_counts_and_messages():
    suites = S.load_suites([GOOD])
    per_sample = sum(len(c.prompts(f)) for s in suites for c in s.claims for f in FRAMINGS)
    assert per_sample == 7
    qs = S.expand(suites, samples=3)
    assert len(qs) == 21 and len({q.id for q in qs}) == 21
    small = [q for q in qs if q.suite == "small"]
    assert all(
        [m.role for m in q.messages] == ["system", "user", "assistant", "user"] for q in small
    )
    assert all(q.messages[-1].content == q.prompt for q in qs)
    other = [q for q in qs if q.suite == "other"]
    assert all(len(q.messages) == 1 for q in other)
    assert [(q.framing, q.prompt_idx, q.sample_idx) for q in qs if q.claim_id == "alpha"][:4] == [
        ("direct", 0, 0),
        ("direct", 0, 1),
        ("direct", 0, 2),
        ("direct", 1, 0),
    ]
    assert len(S.expand(suites, 2, claims={"alpha"}, framings={"negated", "act"})) == 4


def test_query_ids_are_stable_content_hashes():
    a = S.expand(S.load_suites([GOOD]), samples=2)
    b = S.expand(S.load_suites([GOOD]), samples=2)
    assert [q.id for q in a] == [q.id for q in b]
    q = a[0]
    canon = json.dumps(
        [
            q.suite,
            q.claim_id,
            q.framing,
            q.prompt,
            [[m.role, m.content] for m in q.messages],
            q.sample_idx,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    assert q.id == "q-" + hashlib.sha256(canon.encode()).hexdigest()[:16]
    assert a[0].id != a[1].id and a[0].prompt == a[1].prompt  # sample index is in the id


def test_expand_rejects_bad_filters():
    suites = S.load_suites([GOOD])
    with pytest.raises(BehaviordbgError, match="unknown claim `alhpa`") as info:
        S.expand(suites, claims={"alhpa"})
    assert "alpha" in info.value.hint
    with pytest.raises(BehaviordbgError, match="framing"):
        S.expand(suites, framings={"sideways"})
    with pytest.raises(BehaviordbgError, match="at least 1"):
        S.expand(suites, samples=0)


def test_rules_are_parsed_with_stable_ids():
    rules = S.all_rules(S.load_suites([GOOD]))
    assert [(str(r.when), str(r.then), r.source) for r in rules] == [
        ("alpha", "not beta", "implies"),
        ("beta", "not alpha_two", "exclusive"),
    ]
    assert rules[0].note == "Cannot be both."
    again = S.all_rules(S.load_suites([GOOD]))
    assert [r.id for r in rules] == [r.id for r in again]
    assert rules[0].id != rules[1].id


# --------------------------------------------------------------------------- manifests


def test_default_manifest_matches_chat_yaml(shipped):
    chat = S.load_manifest(PROBES / "manifests" / "chat.yaml")
    assert chat.capabilities == S.DEFAULT_MANIFEST.capabilities
    assert not any(S.DEFAULT_MANIFEST.capabilities.values())
    used = {c.capability for c in S.all_claims(shipped).values() if c.capability}
    assert used <= set(S.DEFAULT_MANIFEST.capabilities)
    assert S.load_manifest(None) is S.DEFAULT_MANIFEST


def test_manifest_overrides_truth(shipped):
    claims = S.all_claims(shipped)
    agent = S.load_manifest("agent-with-tools")
    chat = S.DEFAULT_MANIFEST
    assert chat.truth_of(claims["can_browse_web"]) is False
    assert agent.truth_of(claims["can_browse_web"]) is True
    assert agent.truth_of(claims["can_run_code"]) is True
    assert agent.truth_of(claims["has_physical_body"]) is False
    assert agent.truth_of(claims["is_ai_system"]) is True  # no capability: suite default
    assert S.check_manifest(agent, shipped) == []

    suites = S.load_suites([GOOD])
    small = S.all_claims(suites)
    m = S.load_manifest(DATA / "manifests" / "good.yaml")
    assert m.name == "alpha-deployment"
    assert (small["alpha"].truth, m.truth_of(small["alpha"])) == (False, True)
    assert (small["beta"].truth, m.truth_of(small["beta"])) == (True, False)


def test_bad_manifest_names_file_and_line(tmp_path):
    path = DATA / "manifests" / "bad.yaml"
    with pytest.raises(SuiteErrors) as info:
        S.load_manifest(path)
    errs = info.value.errors
    assert [e.line for e in errs] == [line_of(path, "browsing:"), line_of(path, "capabilites_typo")]
    assert "true or false" in errs[0].message and "did you mean `capabilities`" in errs[1].hint
    with pytest.raises(SuiteErrors, match="not found"):
        S.load_manifest(tmp_path / "missing.yaml")
    typo = tmp_path / "m.yaml"
    typo.write_text("manifest: t\ncapabilities:\n  browse: true\nclaims:\n  is_ai: true\n")
    problems = S.check_manifest(S.load_manifest(typo), S.load_suites())
    assert [(e.line, e.hint) for e in problems] == [
        (3, "did you mean `browsing`?"),
        (5, "did you mean `is_ai_system`?"),
    ]


def test_manifest_that_breaks_a_rule_is_flagged(tmp_path, shipped):
    m = tmp_path / "m.yaml"
    m.write_text("manifest: half\ncapabilities:\n  browsing: true\n  clock: false\n")
    (e,) = S.check_manifest(S.load_manifest(m), shipped)
    assert e.line == 4 and "`has_live_information` true but `knows_current_date` false" in e.message
    assert e.hint.startswith("set `clock: true`")


# --------------------------------------------------------------------------- CLI


def test_cli_validate_ok_and_errors():
    ok = runner.invoke(app, ["suites", "validate"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.startswith("OK: 8 suites, 34 claims")
    bad = runner.invoke(
        app, ["suites", "validate", str(BAD / "wrong_type.yaml"), str(BAD / "dup_key.yaml")]
    )
    assert bad.exit_code == 2
    lines = bad.stderr.splitlines()
    wt = BAD / "wrong_type.yaml"
    assert any(
        ln.endswith(
            f"wrong_type.yaml:{line_of(wt, 'truth: maybe')}: claim `has_body`, `truth` "
            "must be true or false (got text: maybe)"
        )
        for ln in lines
    ), bad.stderr
    assert sum(ln.strip().startswith("fix: ") for ln in lines) == 3
    assert lines[-1] == "3 problems found"
    js = runner.invoke(app, ["suites", "validate", str(BAD / "empty.yaml"), "--json"])
    assert js.exit_code == 2
    payload = json.loads(js.stdout.strip().splitlines()[-1])
    assert payload["ok"] is False and payload["errors"][0]["line"] == 1


def test_cli_validate_with_manifest():
    ok = runner.invoke(app, ["suites", "validate", "--manifest", "agent-with-tools", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout.splitlines()[-1])["manifest"] == "agent-with-tools"
    bad = runner.invoke(
        app, ["suites", "validate", str(GOOD), "-m", str(DATA / "manifests" / "bad.yaml")]
    )
    assert bad.exit_code == 2 and "bad.yaml:3:" in bad.stderr


def test_cli_list_json():
    res = runner.invoke(app, ["suites", "list", "--json", "--manifest", "agent-with-tools"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(data["claims"]) == 34 and len(data["rules"]) == data["totals"]["rules"] >= 10
    browse = next(c for c in data["claims"] if c["id"] == "can_browse_web")
    assert browse["truth"] is True and browse["default_truth"] is False
    assert browse["prompts"] == {"direct": 4, "negated": 2, "act": 2, "open": 0}
    assert set(data["rules"][0]) == {"id", "when", "then", "suite", "source", "note"}
    table = runner.invoke(app, ["suites", "list", str(GOOD)])
    assert (
        table.exit_code == 0
        and "alpha_two" in table.stdout
        and "3 claims, 7 prompts" in table.stdout
    )


def test_cli_schema():
    res = runner.invoke(app, ["suites", "schema"])
    assert res.exit_code == 0 and json.loads(res.stdout)["title"] == "behaviordbg probe suite"
    p = runner.invoke(app, ["suites", "schema", "--manifest", "--path"])
    assert Path(p.stdout.strip()) == S.schema_path("manifest") and Path(p.stdout.strip()).is_file()


# --------------------------------------------------------------------------- property: never crash


def _check_never_crashes(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "fuzz.yaml"
        f.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
        try:
            suites = S.load_suites([f])
        except SuiteError as exc:
            errs = exc.errors if isinstance(exc, SuiteErrors) else [exc]
            assert errs and all(isinstance(e, SuiteError) and e.message for e in errs)
            assert all(e.line is None or e.line >= 1 for e in errs)
        else:
            S.expand(suites)


GOOD_TEXT = (GOOD / "small.yaml").read_text()
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=100),
        st.lists(
            st.sampled_from(
                [
                    "suite: a",
                    "claims:",
                    "  - id: b",
                    "    text: T",
                    "    ask:",
                    "      - Q?",
                    "rules:",
                    "  - when: b",
                    "    then: not b",
                    "- [",
                    "? x",
                    "&a x: *a",
                    "!!python/object:os.system x",
                    "\t",
                    "'",
                ]
            ),
            max_size=12,
        ).map("\n".join),
    )
)
def test_random_yaml_never_crashes_the_loader(text):
    _check_never_crashes(text)


@settings(
    max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(GOOD_TEXT)),
            st.sampled_from(["del", "ins", "dup"]),
            st.text(max_size=4),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_suites_never_crash_the_loader(edits):
    text = GOOD_TEXT
    for pos, op, s in edits:
        pos = min(pos, len(text))
        if op == "del":
            text = text[:pos] + text[pos + 1 :]
        elif op == "ins":
            text = text[:pos] + s + text[pos:]
        else:
            start = text.rfind("\n", 0, pos) + 1
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            text = text[:end] + "\n" + text[start:end] + text[end:]
    _check_never_crashes(text)


@settings(
    max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.sampled_from(["suite", "claims", "rules", "context", "system_prompt"]),
    _json,
    st.sampled_from(["id", "text", "truth", "tags", "ask", "ask_negated", "act", "capability"]),
    _json,
)
def test_structurally_wrong_values_never_crash_the_loader(
    top_key, top_value, claim_key, claim_value
):
    doc = yaml.safe_load(GOOD_TEXT)
    doc["claims"][0][claim_key] = claim_value
    _check_never_crashes(yaml.dump(doc, Dumper=_Dumper))
    doc = yaml.safe_load(GOOD_TEXT)
    doc[top_key] = top_value
    _check_never_crashes(yaml.dump(doc, Dumper=_Dumper))


def test_env_override_that_is_not_a_dir_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("BEHAVIORDBG_PROBES", str(tmp_path / "nope"))
    with pytest.raises(SuiteError, match="BEHAVIORDBG_PROBES"):
        S.load_suites()
    assert os.environ["BEHAVIORDBG_PROBES"].endswith("nope")
