"""Save → the open page shows the new version, through `hotgo run --browser`, in a headless Chromium.

For each of N edits of samples/api's `const version` line: the time from the file write to the first
GET / on the shared port that returns the new version (polled every 2 ms, fresh connections), and to
the moment the page opened through the browser port shows it (the page reloads itself; polled every
10 ms through chromedriver). Their difference is what the live reload adds: waiting for the old
generation's listener to close, the event to the page, the reload and render. Then the cost of the
proxy per request: GET / and GET /page, direct and through the browser port.

    python bench/browser_reload.py [--edits 10]   # needs chromium and chromedriver
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Hotgo, copy_sample, free_port, log, median, ms, percentile, set_version, table, wait_version


def page_version(driver: object) -> object:
    try:
        return driver.execute_script(  # type: ignore[attr-defined]
            "const v = document.getElementById('version'); return v ? v.textContent : null")
    except Exception:
        return None  # mid-reload


def request_ms(port: int, path: str, accept: str, count: int) -> List[float]:
    took = []
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.perf_counter()
        conn.request("GET", path, headers={"Accept": accept})
        conn.getresponse().read()
        took.append(time.perf_counter() - started)
        conn.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        raise SystemExit("needs chromium and chromedriver on PATH")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    with tempfile.TemporaryDirectory(prefix="hotgo-bench-") as tmp:
        project = copy_sample(Path(tmp))
        shared, front = free_port(), free_port()
        hotgo = Hotgo(project, shared, "--browser", f"127.0.0.1:{front}")
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        try:
            hotgo.wait_summary(1, timeout=600)
            driver.get(f"http://127.0.0.1:{front}/page")
            served, shown = [], []
            for edit in range(1, args.edits + 1):
                version = f"b{edit}"
                seen: List[float] = []
                poller = threading.Thread(target=lambda v=version, out=seen: out.append(wait_version(shared, v, 120)))
                started = time.monotonic()
                set_version(project, version)
                poller.start()
                while page_version(driver) != version:
                    if time.monotonic() - started > 120:
                        raise SystemExit(f"the page never showed {version}")
                    time.sleep(0.01)
                page_at = time.monotonic()
                poller.join()
                served.append(seen[0] - started)
                shown.append(page_at - started)
                log(f"edit {edit}: served {ms(served[-1])}, page {ms(shown[-1])}")
                hotgo.wait_summary(edit + 1)
            added = [b - a for a, b in zip(served, shown)]
            rows = [[name, ms(median(v)), ms(percentile(v, 95))] for name, v in
                    (("save → served on the shared port", served), ("save → the page shows it", shown),
                     ("added by the live reload", added))]
            print(table(["", "median", "p95"], rows))
            rows = []
            for path, accept in (("/", "*/*"), ("/page", "text/html")):
                for name, port in (("direct", shared), ("browser port", front)):
                    took = request_ms(port, path, accept, args.requests)
                    rows.append([f"GET {path} {name}", f"{median(took) * 1000:.2f} ms",
                                 f"{percentile(took, 95) * 1000:.2f} ms"])
            print(table(["request", "median", "p95"], rows))
        finally:
            driver.quit()
            hotgo.close()


if __name__ == "__main__":
    main()
