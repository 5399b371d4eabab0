"""The project configuration (behaviordbg.toml / [tool.behaviordbg]): found upwards like other
tools' files, checked key by key, layered flags > file > defaults for the CLI and for the pytest
plugin, shown by `check --show-config`, and written by `behaviordbg init`.

End to end over real HTTP (FakeServer on 127.0.0.1) and real SQLite: the file's endpoint is the
one asked, its samples decide how many queries are sent, a flag overrides it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_pytest_plugin import CONSISTENT, QUIET, SUITE, warm_pipeline  # noqa: F401
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.config import resolve_db, resolve_settings
from behaviordbg.config_file import ConfigError, find_config, load_config, project_config
from behaviordbg.errors import BehaviordbgError
from behaviordbg.starter import STARTER_CONFIG
from behaviordbg.testing import FakeServer

STARTER_PROMPTS = 8  # prompts in the starter suite (probes/my_assistant.yaml)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("BEHAVIORDBG_DB", "BEHAVIORDBG_CONFIG", "COLUMNS"):
        monkeypatch.delenv(var, raising=False)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _json(output: str) -> dict:  # type: ignore[type-arg]
    return json.loads(output.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the file itself


def test_found_upwards_behaviordbg_toml_first_and_pyproject_tool_table(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) is None
    _write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")  # no [tool.behaviordbg]
    assert find_config(deep) is None
    _write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n[tool.behaviordbg]\nsamples = 4\n")
    assert find_config(deep) == tmp_path / "pyproject.toml"
    assert project_config(deep).values == {"samples": 4}
    _write(tmp_path / "a" / "behaviordbg.toml", "samples = 2\n")
    assert find_config(deep) == tmp_path / "a" / "behaviordbg.toml"  # nearer wins
    _write(tmp_path / "a" / "b" / "pyproject.toml", "[tool.behaviordbg]\nsamples = 3\n")
    _write(tmp_path / "a" / "b" / "behaviordbg.toml", "samples = 5\n")
    assert project_config(deep).values["samples"] == 5  # behaviordbg.toml before pyproject


def test_paths_are_taken_from_the_files_folder(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "behaviordbg.toml",
                 'db = "data/x.db"\nsuites = ["probes", "/abs/s.yaml"]\nmanifest = "m/my.yaml"\n'
                 'base-url = "http://127.0.0.1:9/v1"\napi_key_env = "MY_KEY"\n')
    values = load_config(cfg).values
    assert values["db"] == str(tmp_path / "data" / "x.db")
    assert values["suites"] == [str(tmp_path / "probes"), "/abs/s.yaml"]
    assert values["manifest"] == str(tmp_path / "m" / "my.yaml")
    assert values["endpoint"] == "http://127.0.0.1:9/v1"  # base-url is endpoint's other name
    assert values["api-key-env"] == "MY_KEY"  # underscores spell the same key
    assert load_config(_write(tmp_path / "o" / "behaviordbg.toml", 'manifest = "chat"\n')
                       ).values["manifest"] == "chat"  # a shipped name stays a name


def test_unknown_key_names_the_file_line_key_and_the_valid_keys(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "behaviordbg.toml", 'model = "m"\nsample = 3\n')
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    text = str(err.value)
    assert f"{cfg}:2" in text and "unknown key `sample`" in text
    assert "did you mean `samples`" in text
    for key in ("endpoint", "model", "api-key-env", "samples", "judge", "manifest", "suites",
                "db", "fail-on"):
        assert key in err.value.hint


@pytest.mark.parametrize(("line", "needle"), [
    ('samples = "3"', "integer >= 1"),
    ("samples = 0", "integer >= 1"),
    ("samples = true", "integer >= 1"),
    ('fail-on = "severe"', "critical, high, medium, low"),
    ("suites = 3", "list of paths"),
    ('endpoint = "127.0.0.1:8000/v1"', "http"),
    ('model = ""', "non-empty string"),
    ("model = [", "not valid TOML"),
])
def test_wrong_types_are_errors_naming_the_file(tmp_path: Path, line: str, needle: str) -> None:
    cfg = _write(tmp_path / "behaviordbg.toml", line + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert str(cfg) in str(err.value) and needle in str(err.value), str(err.value)


def test_a_key_in_the_file_is_refused_and_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-proj-THISISNOTAREALKEY0123456789"
    monkeypatch.chdir(tmp_path)
    for line in (f'api-key = "{secret}"', f'api-key-env = "{secret}-x"'):
        cfg = _write(tmp_path / "behaviordbg.toml", line + "\n")
        with pytest.raises(ConfigError) as err:
            load_config(cfg)
        assert secret not in str(err.value) and "NAME" in str(err.value)
        res = CliRunner().invoke(app, ["check", "--show-config", "--json"])
        assert res.exit_code == 2 and secret not in res.output


def test_unknown_judge_in_the_file_names_the_file(tmp_path: Path) -> None:
    cfg = _write(tmp_path / "behaviordbg.toml", 'judge = "oracle"\n')
    with pytest.raises(BehaviordbgError) as err:
        resolve_settings({}, load_config(cfg))
    assert "oracle" in str(err.value) and str(cfg) in err.value.hint


def test_db_precedence_flag_env_file_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_db() == ".behaviordbg/behaviordbg.db"
    _write(tmp_path / "behaviordbg.toml", 'db = "f.db"\n')
    assert resolve_db() == str(tmp_path / "f.db")
    monkeypatch.setenv("BEHAVIORDBG_DB", "env.db")
    assert resolve_db() == "env.db"
    assert resolve_db("flag.db") == "flag.db"
    monkeypatch.setenv("BEHAVIORDBG_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(ConfigError, match="BEHAVIORDBG_CONFIG"):
        find_config()


# --------------------------------------------------------------------------- the CLI


def _project(tmp_path: Path, server: FakeServer, extra: str = "") -> Path:
    """`behaviordbg init`, then the endpoint and model of the fake server filled in."""
    res = CliRunner().invoke(app, ["init", "--dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    cfg = tmp_path / "behaviordbg.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        '# endpoint = "https://api.openai.com/v1"', f'endpoint = "{server.base_url}"').replace(
        '# model = "gpt-4o-mini"', 'model = "file-model"') + extra, encoding="utf-8")
    return cfg


def test_show_config_says_where_each_value_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer
) -> None:
    cfg = _project(tmp_path, fake_server)
    monkeypatch.chdir(tmp_path / "probes")  # found from a sub-folder too
    res = CliRunner().invoke(app, ["check", "--show-config", "--samples", "3", "--json"])
    assert res.exit_code == 0, res.output
    doc = _json(res.stdout)
    assert doc["config_file"] == str(cfg)
    got = {k: (v["value"], v["source"]) for k, v in doc["settings"].items()}
    assert got["samples"] == (3, "flag --samples")
    assert got["model"] == ("file-model", f"file {cfg}")
    assert got["endpoint"] == (fake_server.base_url, f"file {cfg}")
    assert got["db"] == (str(tmp_path / ".behaviordbg" / "behaviordbg.db"), f"file {cfg}")
    assert got["fail-on"] == (None, "default") and got["api-key-env"] == ("OPENAI_API_KEY", "default")
    assert fake_server.requests == 0  # --show-config runs nothing
    assert not (tmp_path / ".behaviordbg").exists()

    text = CliRunner().invoke(app, ["check", "--show-config", "--model", "flag-model"]).stdout
    lines = {line.split()[0]: line for line in text.splitlines()}
    assert lines["model"].endswith("(flag --model)") and "flag-model" in lines["model"]
    assert lines["samples"].endswith(f"(file {cfg})")
    assert lines["fail-on"].endswith("(default)") and "off" in lines["fail-on"]


def test_check_uses_the_file_and_flags_override_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: FakeServer
) -> None:
    _project(tmp_path, fake_server, extra='fail-on = "low"\n')
    cfg = tmp_path / "behaviordbg.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("samples = 1", "samples = 2"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    fake_server.default = "Yes, I can."  # says yes to everything: contradictions, so bugs
    res = runner.invoke(app, ["check", "--json"])
    doc = _json(res.stdout)
    assert doc["run"]["queries"] == 2 * STARTER_PROMPTS  # samples = 2 from the file
    assert doc["run"]["model"] == "file-model" and fake_server.requests > 0
    assert doc["bugs"] and res.exit_code == 1  # fail-on = "low" from the file
    assert (tmp_path / ".behaviordbg" / "behaviordbg.db").is_file()  # db from the file

    res = runner.invoke(app, ["check", "--json", "--samples", "1", "--fail-on", "critical",
                              "--model", "flag-model"])
    doc = _json(res.stdout)
    assert doc["run"]["queries"] == STARTER_PROMPTS and doc["run"]["model"] == "flag-model"
    assert res.exit_code == 0  # no critical bug: the flag's gate, not the file's
    # read commands use the file's database too
    runs = _json(runner.invoke(app, ["runs", "--json"]).stdout)["runs"]
    assert len(runs) == 2


def test_a_broken_file_stops_every_command_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "behaviordbg.toml", 'smaples = 2\n')
    monkeypatch.chdir(tmp_path)
    for args in (["check", "--show-config"], ["runs"], ["bugs"]):
        res = CliRunner().invoke(app, args)
        out = " ".join(res.output.split())
        assert res.exit_code == 2, (args, res.output)
        assert "behaviordbg.toml:1: unknown key `smaples`" in out and "samples" in out


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["init", "--dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    written = _json(res.stdout)["written"]
    assert sorted(Path(p).name for p in written) == ["behaviordbg.toml", "my_assistant.yaml"]
    assert load_config(tmp_path / "behaviordbg.toml").values["suites"] == [str(tmp_path / "probes")]
    res = runner.invoke(app, ["suites", "validate", str(tmp_path / "probes")])
    assert res.exit_code == 0, res.output
    assert f"{STARTER_PROMPTS} prompts" in res.stdout

    (tmp_path / "behaviordbg.toml").write_text("samples = 7\n")
    res = runner.invoke(app, ["init", "--dir", str(tmp_path)])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "already exist" in out and "--force" in out
    assert (tmp_path / "behaviordbg.toml").read_text() == "samples = 7\n"  # untouched
    res = runner.invoke(app, ["init", "--dir", str(tmp_path), "--force"])
    assert res.exit_code == 0 and (tmp_path / "behaviordbg.toml").read_text() == STARTER_CONFIG


# --------------------------------------------------------------------------- the pytest plugin

SHOW = """\
from behaviordbg.pytest_plugin.options import Settings

def test_show(pytestconfig):
    s = Settings.from_config(pytestconfig)
    print("RESOLVED", s.run.base_url, s.run.model, s.run.samples, s.analyze.judge, s.db)
"""


def test_plugin_layers_flag_over_ini_over_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", behaviordbg='endpoint = "http://127.0.0.1:9/v1"\n'
                      'model = "file-model"\nsamples = 3\ndb = "data/file.db"\n')
    pytester.makeini("[pytest]\nbdbg_model = ini-model\n")
    pytester.makepyfile(test_show=SHOW)
    res = pytester.runpytest("test_show.py", "-s", *QUIET)
    res.assert_outcomes(passed=1)
    db = pytester.path / "data" / "file.db"
    res.stdout.fnmatch_lines([f"*RESOLVED http://127.0.0.1:9/v1 ini-model 3 rules {db}"])
    res = pytester.runpytest("test_show.py", "-s", "--bdbg-samples", "2", "--bdbg-model", "flag",
                             *QUIET)
    res.stdout.fnmatch_lines([f"*RESOLVED http://127.0.0.1:9/v1 flag 2 rules {db}"])


def test_plugin_reports_a_broken_file_as_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", behaviordbg='model = "m"\njugde = "rules"\n')
    pytester.makepyfile(test_show=SHOW)
    res = pytester.runpytest("test_show.py", *QUIET)
    res.stdout.fnmatch_lines(["*behaviordbg.toml:2: unknown key `jugde`*"])
    assert res.ret != 0


@pytest.mark.slow
def test_plugin_probes_the_files_endpoint_with_its_samples(
    pytester: pytest.Pytester, fake_server_factory: Callable[..., FakeServer],
    warm_pipeline: None,  # noqa: F811
) -> None:
    probes = pytester.mkdir("probes")
    (probes / "demo.yaml").write_text(SUITE, encoding="utf-8")
    server = fake_server_factory(CONSISTENT)
    pytester.makefile(".toml", behaviordbg=f'endpoint = "{server.base_url}"\nmodel = "fake"\n'
                      'samples = 2\nsuites = ["probes"]\ndb = "bd.db"\n')
    res = pytester.runpytest("probes", *QUIET, "-rA")
    assert res.ret == pytest.ExitCode.OK, res.stdout.str()
    res.assert_outcomes(passed=13)  # samples = 2 adds a `stable` check to each of the 3 claims
    assert server.requests > 0 and (pytester.path / "bd.db").is_file()
    assert "no `stable` checks" not in res.stdout.str()
    res = pytester.runpytest("probes", "--bdbg-samples", "1", *QUIET, "-rA")
    res.assert_outcomes(passed=10)  # the flag wins: no `stable` checks, and it says why
    res.stdout.fnmatch_lines(["*1 sample per prompt, so no `stable` checks*--bdbg-samples 2*"])
