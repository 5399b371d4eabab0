"""The real `behaviordbg dashboard` server, driven by Debian's headless Chromium via selenium.

Starts the server on a free 127.0.0.1 port against a seeded database, clicks through every page,
checks visible text, proves the hostile answer is shown as text (no element, no alert), and saves
screenshots to tests/artifacts/ (Overview and Bugs also to docs/screenshots/ for the README when
$BEHAVIORDBG_UPDATE_SCREENSHOTS is set, so a test run never changes tracked files).
Without chromium this test FAILS with the install command: scripts/test.sh installs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seed import HOSTILE, SeedInfo, seed_demo_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
START_TIMEOUT = 120  # the machine may be busy: streamlit's cold start took 25 s under load here
PAGE_TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dashboard exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail(f"dashboard not healthy after {START_TIMEOUT}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> SeedInfo:
    return seed_demo_db(tmp_path_factory.mktemp("browser") / "demo.db")


@pytest.fixture(scope="module")
def server(seeded: SeedInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`behaviordbg dashboard --db ... --port N` as a user runs it; stopped by its own pid."""
    exe = shutil.which("behaviordbg", path=str(Path(sys.executable).parent)) or "behaviordbg"
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "dashboard", "--db", seeded.path, "--port", str(port), "--host", "127.0.0.1"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the CLI and its streamlit child
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(
            f"missing {', '.join(missing)}: install Debian's browser with `apt-get update && "
            "apt-get install -y chromium chromium-driver` (as root; scripts/test.sh does this)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1400,1700",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    opts.binary_location = CHROMIUM
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield drv
    finally:
        drv.quit()


def _wait_text(drv: Any, *needles: str) -> str:
    """Wait until the page shows every needle and Streamlit is idle; return the body text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d: Any) -> str | bool:
        body = d.find_element(By.TAG_NAME, "body").text
        running = d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        return body if all(n in body for n in needles) and not running else False

    try:
        return str(WebDriverWait(drv, PAGE_TIMEOUT, poll_frequency=0.5).until(ready))
    except Exception:  # noqa: BLE001 - re-raised as a readable failure
        body = drv.find_element(By.TAG_NAME, "body").text
        pytest.fail(f"page never showed {needles!r}; it shows:\n{body[:3000]}")


def _wait_charts(drv: Any, n: int) -> None:
    """Vega-Lite draws asynchronously: wait until n charts have drawn (canvas or svg)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sel = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks'
    WebDriverWait(drv, PAGE_TIMEOUT).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, sel)) >= n
    )
    time.sleep(1.0)  # let the last paint land before a screenshot


def _nav(drv: Any, title: str) -> None:
    from selenium.webdriver.common.by import By

    links = drv.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNavLink"]')
    link = next((a for a in links if a.text.strip() == title), None)
    assert link is not None, f"no sidebar link {title!r} among {[a.text for a in links]}"
    link.click()


def _shot(drv: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert drv.save_screenshot(str(path)), f"screenshot {path} failed"
    assert path.stat().st_size > 10_000, f"{path} looks blank"
    return path


def test_click_through_every_page(server: str, seeded: SeedInfo, driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    drv = driver
    drv.get(server)
    body = _wait_text(drv, "Overview", "Runs", "What changed since the previous run",
                      seeded.runs[1], "Bugs in this run")
    assert "Stances: p(affirm) per claim and framing" in body
    _wait_charts(drv, 4)
    overview = _shot(drv, "overview")

    _nav(drv, "Graph")
    body = _wait_text(drv, "Contradiction graph", "Select a claim or a contradiction")
    _wait_charts(drv, 1)
    _shot(drv, "graph")

    _nav(drv, "Claims")
    body = _wait_text(drv, "Stance per framing", "Answer clusters")
    _wait_charts(drv, 1)
    _shot(drv, "claims")

    _nav(drv, "Compare")
    body = _wait_text(drv, "Compare runs", "New", "Persisting")
    picked = {i.get_attribute("aria-label"): i.get_attribute("value")
              for i in drv.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"] input')}
    assert picked["Baseline run (a)"] == seeded.runs[0]
    assert picked["Compared run (b)"] == seeded.runs[1]
    _shot(drv, "compare")

    _nav(drv, "Bugs")
    _wait_text(drv, "Bugs", "Selected bug", "Minimal repro", "Triage", "Export")
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    search = WebDriverWait(drv, PAGE_TIMEOUT).until(ec.element_to_be_clickable((
        By.XPATH, '//*[@data-testid="stTextInput"][.//label[normalize-space()="Search"]]//input')))
    search.send_keys(seeded.hostile_fingerprint + Keys.ENTER)
    body = _wait_text(drv, "1 bugs match", seeded.hostile_fingerprint, "Answer")
    # the hostile answer is on screen as literal text ...
    assert '<script>alert("pwned")</script>' in body
    assert "[click me](javascript:alert(2))" in body
    assert HOSTILE.split("**")[0].strip() in body
    # ... and none of it became markup or ran
    assert not drv.find_elements(By.CSS_SELECTOR, "img[onerror]")
    assert not drv.find_elements(By.CSS_SELECTOR, 'a[href^="javascript:"]')
    assert not drv.find_elements(By.XPATH, "//script[contains(., 'pwned')]")
    with pytest.raises(NoAlertPresentException):
        drv.switch_to.alert.text  # noqa: B018 - raises when no alert is open
    for fmt in ("json", "markdown", "github", "jira-csv", "junit", "sarif"):
        assert drv.find_elements(
            By.XPATH, f'//*[@data-testid="stDownloadButton"]//*[normalize-space(text())="{fmt}"]'
        ), f"no export button {fmt}"
    bugs = _shot(drv, "bugs")

    if os.environ.get("BEHAVIORDBG_UPDATE_SCREENSHOTS"):  # refresh the README's images on request
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(overview, SCREENSHOTS / "dashboard-overview.png")
        shutil.copyfile(bugs, SCREENSHOTS / "dashboard-bugs.png")
