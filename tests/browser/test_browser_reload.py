"""Live reload in a real headless Chromium through `hotgo run --browser` (issue 14).

The test never navigates after the first load: the page must reload itself once
the new generation serves, show build errors in an overlay and drop it after
the fix. Every document the browser loads is recorded: none may be an error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import psutil
import pytest
from harness import REPO, Hotgo, free_port, set_version, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="samples/api takes its socket by fd inheritance")

MAIN = "cmd/api/main.go"
LOADS_KEY = "hotgo-test-loads"
# Runs in every document before its own scripts: what each load rendered, kept across reloads of the tab.
RECORD_LOADS = """
addEventListener("DOMContentLoaded", () => {
  const loads = JSON.parse(sessionStorage.getItem("KEY") || "[]");
  const version = document.getElementById("version");
  loads.push(version ? version.textContent : "no version: " + document.title);
  sessionStorage.setItem("KEY", JSON.stringify(loads));
});
""".replace("KEY", LOADS_KEY)


class Browser:
    """Headless Chromium driven by chromedriver, with the document loads it saw."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.documents: List[Dict[str, Any]] = []  # every document response, failure or error page

    def collect(self) -> List[Dict[str, Any]]:
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method"), message.get("params", {})
            if method == "Network.responseReceived" and params.get("type") == "Document":
                self.documents.append({"url": params["response"]["url"], "status": params["response"]["status"]})
            elif method == "Network.loadingFailed" and params.get("type") == "Document":
                self.documents.append({"failed": params.get("errorText")})
            elif method == "Page.frameNavigated" and params["frame"]["url"].startswith("chrome-error:"):
                self.documents.append({"error_page": params["frame"]["url"]})
        return self.documents

    def run(self, script: str) -> Any:
        from selenium.common.exceptions import WebDriverException

        try:
            return self.driver.execute_script(script)
        except WebDriverException:
            return None  # mid-reload: ask again

    def text(self) -> str:
        return self.run("return document.body ? document.body.innerText : ''") or ""

    def version(self) -> Optional[str]:
        return self.run("const v = document.getElementById('version'); return v ? v.textContent : null")  # type: ignore[no-any-return]

    def overlay(self) -> Optional[str]:
        return self.run("const o = document.getElementById('hotgo-overlay'); return o ? o.innerText : null")  # type: ignore[no-any-return]

    def loads(self) -> List[str]:
        return json.loads(self.run(f"return sessionStorage.getItem('{LOADS_KEY}')") or "[]")  # type: ignore[no-any-return]


@pytest.fixture
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        pytest.skip("needs chromium and chromedriver (.ci/run installs Debian's with apt-get when run as root)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=960,420", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=chromedriver)
    driver = webdriver.Chrome(service=service, options=options)
    driver_pid = service.process.pid
    try:
        started = psutil.Process(driver_pid).children(recursive=True)
    except psutil.Error:
        started = []
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_LOADS})
        yield Browser(driver)
    finally:
        driver.quit()
        for process in started:  # whatever quit() left of Chromium
            try:
                process.kill()
            except psutil.Error:
                pass


def write_version(project: Path, expression: str) -> int:
    """`const version = <expression>` (an undefined name breaks the build); return its line."""
    path = project / MAIN
    text = path.read_text()
    match = re.search(r"const version = \S+", text)
    assert match
    path.write_text(text[: match.start()] + f"const version = {expression}" + text[match.end():])
    return text[: match.start()].count("\n") + 1


def proxied_args() -> Tuple[List[str], int]:
    """`hotgo run` of the sample with the browser proxy; and the proxy's port."""
    shared, front = free_port(), free_port()
    return ["run", "./cmd/api", "--listen", f"127.0.0.1:{shared}", "--browser", f"127.0.0.1:{front}"], front


def open_page(hotgo: Hotgo, browser: Browser, front: int) -> None:
    """Once the sample serves, the browser opens its page through the proxy and shows v1."""
    hotgo.wait_serving()
    browser.driver.get(f"http://127.0.0.1:{front}/page")
    wait_for(lambda: browser.version() == "v1", 30, "the page to show v1")


def assert_only_good_documents(browser: Browser) -> None:
    for document in browser.collect():
        assert document.get("status") == 200, f"the browser got an error document: {document}"


def test_the_page_reloads_on_each_generation_and_shows_build_errors(api_project: Path, browser: Browser,
                                                                    tmp_path: Path) -> None:
    args, front = proxied_args()
    with Hotgo(args, api_project) as hotgo:
        open_page(hotgo, browser, front)

        set_version(api_project, "v2")
        wait_for(lambda: browser.version() == "v2", 120, "the page to reload itself and show v2")
        hotgo.wait_serving(2)

        line = write_version(api_project, "v3broken")
        where = f"{MAIN}:{line}:"
        wait_for(lambda: where in (browser.overlay() or ""), 120, f"an overlay naming {where}")
        assert "undefined: v3broken" in (browser.overlay() or "")
        assert browser.version() == "v2", "the failed build must leave the page (and generation 2) alone"
        shot = tmp_path / "browser-overlay.png"
        assert browser.driver.save_screenshot(str(shot))
        if os.environ.get("HOTGO_UPDATE_SCREENSHOT"):
            shutil.copyfile(shot, REPO / "docs" / "browser-overlay.png")

        write_version(api_project, '"v3"')
        wait_for(lambda: browser.version() == "v3" and browser.overlay() is None, 120,
                 "the fix to remove the overlay and show v3")

    # One load per generation: a reload before the new one served would have shown the old version again.
    assert browser.loads() == ["v1", "v2", "v3"]
    assert_only_good_documents(browser)


def test_a_page_that_missed_a_generation_while_hotgo_was_down_reloads_on_reconnect(
        api_project: Path, browser: Browser) -> None:
    args, front = proxied_args()
    with Hotgo(args, api_project) as hotgo:
        open_page(hotgo, browser, front)
        assert hotgo.interrupt() == 0
    set_version(api_project, "v2")  # while nothing watches
    with Hotgo(args, api_project) as hotgo:
        hotgo.wait_serving()
        # A new hotgo numbers generations from 1 again: the page still knows it is stale.
        wait_for(lambda: browser.version() == "v2", 120, "the reconnected page to reload and show v2")
    assert browser.loads() == ["v1", "v2"]
    assert_only_good_documents(browser)


@pytest.mark.parametrize("reload_on_config", [False, True])
def test_a_config_push_reloads_the_page_only_when_asked(api_project: Path, browser: Browser,
                                                         reload_on_config: bool) -> None:
    shared, front = free_port(), free_port()
    (api_project / "hotgo.toml").write_text(
        f'[config]\nfiles = ["config/*.json"]\n\n[browser]\nlisten = "127.0.0.1:{front}"\n'
        f"reload_on_config = {str(reload_on_config).lower()}\n")
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{shared}"], api_project) as hotgo:
        hotgo.wait_serving()
        browser.driver.get(f"http://127.0.0.1:{front}/page")
        wait_for(lambda: ": hello" in browser.text(), 30, "the page with the first greeting")

        (api_project / "config" / "api.json").write_text('{"greeting": "pushed", "rate": 10}')
        hotgo.wait_event("config_push", 60, generation=1, result="confirmed")
        if reload_on_config:
            wait_for(lambda: ": pushed" in browser.text(), 60, "the page to reload with the pushed greeting")
            assert browser.loads() == ["v1", "v1"]
        else:
            # Events reach the page in order: once the overlay of a later failed build shows,
            # the page has seen the push's state too, and must not have reloaded for it.
            write_version(api_project, "broken")
            wait_for(lambda: browser.overlay(), 120, "the overlay of the failed build")
            assert browser.loads() == ["v1"]
            assert ": hello" in browser.text()
    assert_only_good_documents(browser)
