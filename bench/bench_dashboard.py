"""Dashboard render benchmark: 10,000 bugs and 200,000 responses, first page under 3 s?

Seeds a large database (bulk executemany inside single transactions, through the store's schema),
then times the Overview's first render under streamlit.testing.v1.AppTest in a fresh process (cold
caches), the Bugs page after it, and, when Debian's chromium is installed, the real
`behaviordbg dashboard` server's first render in headless Chromium (from navigation to the numbers
on screen).

    .venv/bin/python bench/bench_dashboard.py                  # default sizes
    .venv/bin/python bench/bench_dashboard.py --bugs 1000 --responses 20000 --no-browser
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from behaviordbg.store import Store, now_iso
from behaviordbg.types import (
    CONTRADICTION_KINDS,
    FRAMINGS,
    AnswerCluster,
    Contradiction,
    Evidence,
    GenParams,
    StanceDistribution,
    to_dict,
)

REPO = Path(__file__).resolve().parents[1]
APP = REPO / "src" / "behaviordbg" / "dashboard" / "app.py"
SEVERITY = (("critical", 0.9), ("high", 0.7), ("medium", 0.5), ("low", 0.0))


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _severity(score: float) -> str:
    return next(name for name, low in SEVERITY if score >= low)


def seed_large(path: Path, *, bugs: int, responses: int, claims: int, seed: int = 1) -> dict:
    """Two runs; `responses` answers split between them; `bugs` bugs in each run's analysis."""
    rng = random.Random(seed)
    claim_ids = [f"claim_{i:03d}" for i in range(claims)]
    t0 = time.perf_counter()
    with Store.open(path) as store:
        runs = []
        for r in range(2):
            params = GenParams(model="bench-model", base_url="http://127.0.0.1:9/v1")
            run_id = store.create_run(params, [{"name": "bench", "path": "probes/bench.yaml",
                                                "sha256": "0" * 64}],
                                      run_id=f"run-2026010{r}-000000-bench{r}", label=f"bench {r}")
            per_run = responses // 2
            q_rows, r_rows, s_rows = [], [], []
            ts = now_iso()
            for i in range(per_run):
                claim = claim_ids[i % claims]
                framing = FRAMINGS[(i // claims) % 3]
                qid = f"q{i:07d}"
                rid = f"r{r}-{i:07d}"
                prompt = f"Question {i % 7} about {claim} ({framing})?"
                q_rows.append((run_id, qid, "bench", claim, framing, i % 7, prompt,
                               '[{"role": "user", "content": "..."}]', i % 4, "k" + qid))
                label = "affirm" if rng.random() < 0.5 else "deny"
                r_rows.append((rid, run_id, qid, "k" + qid, f"Answer {i}: I {label}.", "stop",
                               300.0, 0, None, None, ts))
                s_rows.append((rid, "cascade", label, 0.9, "rules", "", None, ts))
            with store.conn:
                store.conn.executemany(
                    "INSERT INTO queries (run_id, id, suite, claim_id, framing, prompt_idx, prompt,"
                    " messages_json, sample_idx, cache_key) VALUES (?,?,?,?,?,?,?,?,?,?)", q_rows)
                store.conn.executemany(
                    "INSERT INTO responses (id, run_id, query_id, cache_key, text, finish_reason,"
                    " latency_ms, from_cache, raw_request_json, raw_response_json, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)", r_rows)
                store.conn.executemany(
                    "INSERT INTO stances (response_id, judge, label, confidence, judged_by,"
                    " rationale, disagreement, created_at) VALUES (?,?,?,?,?,?,?,?)", s_rows)
            store.set_run_status(run_id, "complete")
            analysis = store.start_analysis(run_id, "cascade")
            dists, clusters, contradictions, occ_rows, bug_rows = [], [], [], [], []
            for claim in claim_ids:
                for framing in (*FRAMINGS, "all"):
                    a, d = rng.randint(0, 40), rng.randint(0, 40)
                    dists.append(StanceDistribution(claim, framing, a, d, 2, 1, 0,
                                                    a / (a + d) if a + d else 0.0, 0.1, 0.9))
                for k in range(3):
                    clusters.append(AnswerCluster(claim, k, 10, f"r{r}-0000000", f"mode {k}",
                                                  {"affirm": 5, "deny": 5}, (f"r{r}-0000000",)))
            offset = 0 if r == 1 else bugs // 10  # runs share 90% of their bugs
            for b in range(bugs):
                fp = f"{b + offset:016x}"
                kind = CONTRADICTION_KINDS[(b + offset) % len(CONTRADICTION_KINDS)]  # one per fp
                cl = (claim_ids[b % claims],) if kind != "rule" else (
                    claim_ids[b % claims], claim_ids[(b + 1) % claims])
                ev = tuple(Evidence(f"r{r}-{b:07d}", c, "direct", "Do you?", "Yes I do.",
                                    "affirm", 0.9, "rules") for c in cl)
                score = rng.random()
                c = Contradiction(kind, cl, f"{kind} on {'/'.join(cl)}", score, 0.8, score, ev)
                contradictions.append((fp, c))
                bug = {"fingerprint": fp, "kind": kind, "title": f"[{kind}] {' / '.join(cl)}",
                       "severity": _severity(score), "claims": list(cl),
                       "evidence": [to_dict(e) for e in ev], "repro": ["Do you?"], "rate": score,
                       "confidence": 0.8, "severity_score": score, "status": "new",
                       "summary": c.summary, "witness": [], "certain": True, "contradictions": 1}
                occ_rows.append((fp, run_id, analysis, "bench-model", bug["severity"], score,
                                 score, 0.8, _json(bug)))
                bug_rows.append((fp, kind, bug["title"], _json(list(cl)), run_id, run_id, ts, ts))
            store.save_analysis(analysis, clusters=clusters, distributions=dists,
                                contradictions=contradictions, summary={"bugs": bugs})
            with store.conn:
                store.conn.executemany(
                    "INSERT INTO bugs (fingerprint, kind, title, claims_json, status,"
                    " first_seen_run, last_seen_run, created_at, updated_at)"
                    " VALUES (?,?,?,?,'new',?,?,?,?) ON CONFLICT(fingerprint) DO UPDATE SET"
                    " last_seen_run = excluded.last_seen_run", bug_rows)
                store.conn.executemany(
                    "INSERT INTO bug_occurrences (fingerprint, run_id, analysis_id, model,"
                    " severity, severity_score, rate, confidence, json) VALUES (?,?,?,?,?,?,?,?,?)",
                    occ_rows)
            runs.append(run_id)
        counts = {t: store.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                  for t in ("responses", "bugs", "bug_occurrences", "contradictions")}
    return {"runs": runs, "seconds": round(time.perf_counter() - t0, 2), **counts}


APPTEST_SNIPPET = """
import json, sys, time
import streamlit as st
from streamlit.testing.v1 import AppTest

def render(page=None):
    at = AppTest.from_file(sys.argv[1], default_timeout=300)
    wall, cpu = time.perf_counter(), time.process_time()
    at.run()
    out = [time.perf_counter() - wall, time.process_time() - cpu]
    assert not at.exception, [e.value for e in at.exception]
    if page:
        at.switch_page(page)
        wall, cpu = time.perf_counter(), time.process_time()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        out += [time.perf_counter() - wall, time.process_time() - cpu]
    return at, out

at, (cold, cold_cpu) = render()                 # fresh process: Streamlit's own start-up work too
st.cache_data.clear()
at, (first, first_cpu, bugs, bugs_cpu) = render("views/bugs.py")  # warm process, empty data cache
_, (again, again_cpu) = render()                # cached data
metrics = {m.label: m.value for m in render()[0].metric}
print(json.dumps({"process_cold_s": cold, "process_cold_cpu_s": cold_cpu,
                  "overview_first_s": first, "overview_first_cpu_s": first_cpu,
                  "bugs_first_s": bugs, "bugs_first_cpu_s": bugs_cpu,
                  "overview_cached_s": again, "bugs_in_run": metrics.get("Bugs in this run")}))
"""


def time_apptest(db: Path) -> dict:
    """First render in a fresh interpreter, so no Streamlit cache is warm."""
    env = {**os.environ, "BEHAVIORDBG_DB": str(db)}
    proc = subprocess.run([sys.executable, "-c", APPTEST_SNIPPET, str(APP)], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"AppTest run failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_browser(db: Path) -> dict | None:
    """The real server's first render in headless Chromium, if chromium is installed."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        print("chromium not installed: skipping the real-server figure")
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = shutil.which("behaviordbg", path=str(Path(sys.executable).parent)) or "behaviordbg"
    proc = subprocess.Popen([exe, "dashboard", "--db", str(db), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    profile = tempfile.mkdtemp(prefix="bench-chromium-")
    drv = None
    try:
        t0 = time.perf_counter()
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if time.perf_counter() - t0 > 180:
                    raise SystemExit("dashboard server did not start in 180 s") from None
                time.sleep(0.3)
        startup = time.perf_counter() - t0
        opts = Options()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"):
            opts.add_argument(arg)
        opts.binary_location = "/usr/bin/chromium"
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        times = []
        for _ in range(2):  # the first session pays the server's first script run; then cached
            t1 = time.perf_counter()
            drv.get(url)
            WebDriverWait(drv, 300, poll_frequency=0.05).until(
                lambda d: "Bugs in this run" in d.find_element(By.TAG_NAME, "body").text)
            times.append(time.perf_counter() - t1)
            drv.get("about:blank")
        return {"server_start_s": startup, "browser_first_render_s": times[0],
                "browser_second_render_s": times[1]}
    finally:
        if drv is not None:
            drv.quit()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bugs", type=int, default=10_000)
    ap.add_argument("--responses", type=int, default=200_000)
    ap.add_argument("--claims", type=int, default=200)
    ap.add_argument("--db", type=Path, default=REPO / "bench" / "out" / "bench_dashboard.db")
    ap.add_argument("--no-browser", action="store_true", help="skip the real-server figure")
    args = ap.parse_args()
    args.db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(args.db) + suffix).unlink(missing_ok=True)
    seeded = seed_large(args.db, bugs=args.bugs, responses=args.responses, claims=args.claims)
    print(f"seeded {args.db}: {seeded['responses']} responses, {seeded['bugs']} bugs "
          f"({seeded['bug_occurrences']} occurrences over 2 runs), {seeded['contradictions']} "
          f"contradictions in {seeded['seconds']} s")
    fig = time_apptest(args.db)
    print(f"AppTest, fresh process (Streamlit start-up included): {fig['process_cold_s']:.2f} s "
          f"wall, {fig['process_cold_cpu_s']:.2f} s CPU")
    print(f"AppTest Overview first render, empty data cache: {fig['overview_first_s']:.2f} s "
          f"wall, {fig['overview_first_cpu_s']:.2f} s CPU "
          f"(cached: {fig['overview_cached_s']:.2f} s)"
          f"; shows {fig['bugs_in_run']} bugs")
    print(f"AppTest Bugs page first render, empty data cache: {fig['bugs_first_s']:.2f} s wall, "
          f"{fig['bugs_first_cpu_s']:.2f} s CPU")
    budget_ok = fig["overview_first_s"] < 3.0  # the data path; start-up work is reported apart
    if not args.no_browser:
        real = time_browser(args.db)
        if real:
            print(f"real server: started in {real['server_start_s']:.1f} s; Chromium first render "
                  f"(navigation to numbers on screen): {real['browser_first_render_s']:.2f} s; "
                  f"a second session: {real['browser_second_render_s']:.2f} s")
            # the same on a tiny database: what the browser and server cost without the data
            tiny = args.db.with_name("bench_dashboard_tiny.db")
            for suffix in ("", "-wal", "-shm"):
                Path(str(tiny) + suffix).unlink(missing_ok=True)
            seed_large(tiny, bugs=10, responses=200, claims=5)
            base = time_browser(tiny)
            if base:
                print(f"baseline, 10 bugs / 200 responses: Chromium first render "
                      f"{base['browser_first_render_s']:.2f} s; a second session "
                      f"{base['browser_second_render_s']:.2f} s")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times grow "
          "with it; CPU seconds much less)")
    print("budget (< 3 s Overview first render, empty data cache):",
          "MET" if budget_ok else "MISSED")
    print("command: .venv/bin/python bench/bench_dashboard.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
