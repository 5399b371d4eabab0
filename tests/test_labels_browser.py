"""Labelling an answer on the Bugs page of the real `behaviordbg dashboard` server, in headless
Chromium (selenium): the misread answer gets "deny" from the keyboard, one click saves, and the
page shows the bug closed as false_positive (evidence relabelled); the database agrees.

Screenshots go to tests/artifacts/ (and to docs/screenshots/ when
$BEHAVIORDBG_UPDATE_SCREENSHOTS is set). Without chromium this test FAILS with the install
command, like tests/test_dashboard_browser.py (whose server and browser helpers it uses).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from labels_seed import MISREAD, seed_false_bug
from test_dashboard_browser import SCREENSHOTS, _free_port, _shot, _wait_healthy, _wait_text
from test_dashboard_browser import driver as driver  # its browser fixture, reused

from behaviordbg.store import Store
from behaviordbg.triage import RELABELLED

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def false_bug(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("labels-browser")
    return seed_false_bug(folder / "review.db", folder)


@pytest.fixture(scope="module")
def label_server(false_bug: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[str]:
    """`behaviordbg dashboard --db ... --port N`, stopped by its own process group."""
    exe = shutil.which("behaviordbg", path=str(Path(sys.executable).parent)) or "behaviordbg"
    port = _free_port()
    log = tmp_path_factory.mktemp("label-server") / "dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [exe, "dashboard", "--db", false_bug["db"], "--port", str(port), "--host",
             "127.0.0.1"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_label_an_answer_on_the_bugs_page_and_see_the_bug_close(
    label_server: str, false_bug: dict[str, str], driver: Any,
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    fp, rid = false_bug["fingerprint"], false_bug["response_id"]
    drv = driver
    drv.get(label_server + "/bugs")
    # the misread answer (as text) and where its stance came from: the judge
    _wait_text(drv, "Selected bug", fp, "Label the evidence", MISREAD,
               f"{rid} · can_browse · direct · stance affirm (0.95) from rules")
    # Streamlit may re-render while we type: every step looks its elements up afresh and is
    # retried on a stale or covered element
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        NoSuchElementException,
        StaleElementReferenceException,
    )

    flaky = (StaleElementReferenceException, ElementClickInterceptedException,
             NoSuchElementException)
    wait = WebDriverWait(drv, 60, poll_frequency=0.5, ignored_exceptions=flaky)

    def form(d: Any) -> Any:
        return d.find_element(By.CSS_SELECTOR, '[data-testid="stForm"]')  # the first: the label's

    def pick_deny(d: Any) -> bool:
        picker = form(d).find_element(By.CSS_SELECTOR, '[data-testid="stSelectbox"] input')
        assert picker.get_attribute("aria-label") == "Label"
        if picker.get_attribute("value") == "deny":
            return True
        d.execute_script("arguments[0].scrollIntoView({block: 'center'});", picker)
        picker.click()
        picker.send_keys("deny" + Keys.ENTER)  # the keyboard: type the stance, Enter
        return False

    wait.until(pick_deny)
    note_xpath = ('.//*[@data-testid="stTextInput"][.//label[starts-with(normalize-space(),'
                  ' "Note")]]//input')
    text = "says it cannot browse; the judge read the keyword"

    def write_note(d: Any) -> bool:
        note = form(d).find_element(By.XPATH, note_xpath)
        if note.get_attribute("value") != text:
            note.clear()
            note.send_keys(text)
        return bool(note.get_attribute("value") == text)

    wait.until(write_note)
    wait.until(pick_deny)  # still chosen
    before = _shot(drv, "label-before")

    def save(d: Any) -> bool:
        form(d).find_element(By.XPATH, './/button[.//*[normalize-space(text())='
                                       '"Save labels and re-analyse"]]').click()
        return True

    wait.until(save)
    # the bug left the run's bugs and is listed as removed by labels (the table is a canvas:
    # its status is checked in the database below)
    _wait_text(drv, f"Bug {fp} closed as false_positive (evidence relabelled).",
               "No bugs match these filters.", "Removed by labels (1)")
    after = _shot(drv, "label-after")
    with Store.open(false_bug["db"], readonly=True) as store:
        assert store.get_bug(fp)["status"] == "false_positive"
        last = [h for h in store.bug_history(fp) if h["field"] == "status"][-1]
        assert last["note"].startswith(RELABELLED)
        assert store.labels_on([rid])[rid]["stance"] == "deny"
    if os.environ.get("BEHAVIORDBG_UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(before, SCREENSHOTS / "dashboard-label-before.png")
        shutil.copyfile(after, SCREENSHOTS / "dashboard-label-after.png")
