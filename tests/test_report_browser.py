"""The HTML report in a real headless Chromium with the network shut off: it renders offline (no
resource is fetched), the SVG graph is drawn with a node per claim, the baseline diff shows, and
hostile model text is on screen as text. A screenshot goes to tests/artifacts/ (and to
docs/report-screenshot.png with BEHAVIORDBG_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from behaviordbg.cli import app
from behaviordbg.store import Store
from seed import HOSTILE, seed_demo_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def offline_driver(tmp_path: Path) -> Iterator[Any]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: install Debian's browser with `apt-get update"
                    " && apt-get install -y chromium chromium-driver` (scripts/test.sh does this)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1200,1600", f"--user-data-dir={tmp_path / 'profile'}",
                # no network: every host unresolvable and every request sent to a dead proxy
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def test_report_renders_offline_in_chromium(tmp_path: Path, offline_driver: Any) -> None:
    from selenium.webdriver.common.by import By

    info = seed_demo_db(tmp_path / "s.db")
    base, run = info.runs
    out = tmp_path / "report.html"
    res = CliRunner().invoke(app, ["report", run, "--baseline", base, "--db", info.path,
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    with Store.open(info.path, readonly=True) as store:
        analysis = store.require_analysis(run)
        claims = {d.claim_id for d in store.analysis_distributions(analysis["id"])
                  if d.framing == "all"}
        for grp in store.contradiction_groups(analysis["id"]):
            claims.update(grp["claims"])
        bugs = store.bugs_for_analysis(analysis["id"])

    drv = offline_driver
    drv.get(out.as_uri())
    assert run in drv.title
    fetched = drv.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched == [], fetched  # nothing loaded from anywhere: the page is self-contained
    nodes = drv.find_elements(By.CSS_SELECTOR, "svg g.claim")
    assert sorted(n.get_attribute("data-claim") for n in nodes) == sorted(claims)
    svg = drv.find_element(By.CSS_SELECTOR, "svg")
    assert svg.size["width"] > 300 and svg.size["height"] > 150  # drawn, not collapsed
    assert len(drv.find_elements(By.CSS_SELECTOR, "div.bug")) == len(bugs) > 0
    assert drv.find_elements(By.CSS_SELECTOR, "tr.change-new")  # the baseline diff is shown
    assert not drv.find_elements(By.TAG_NAME, "script")
    body = drv.find_element(By.TAG_NAME, "body").text
    assert "Changes since the baseline" in body and "Contradiction graph" in body
    visible = drv.execute_script("return document.body.textContent")
    assert HOSTILE.strip()[:40] in visible  # the hostile answer is text on the page, not markup

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    assert drv.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("BEHAVIORDBG_UPDATE_SCREENSHOTS"):
        shutil.copyfile(shot, REPO / "docs" / "report-screenshot.png")
