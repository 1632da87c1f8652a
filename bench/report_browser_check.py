"""Open report.html / compare.html files in headless Chromium, as a reader
would, and check what comes first.

    python bench/report_browser_check.py RUN/report.html [OUT/compare.html ...] [--out DIR]

For each file: a screenshot of the first screen at 1300 px wide
(`chromium --headless --screenshot`) and the DOM Chromium built from it
(`--dump-dom`), in which the <section id="..."> order is asserted: the
headline sections first, the configuration last. The file is opened from
disk with the network off, so a page that needs anything but itself fails.
Needs Debian's `chromium` package (apt-get install -y chromium).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

WIDTH, HEIGHT = 1300, 1400
# The sections each kind of page must start with, and the one it must end with.
EXPECTED = {
    "report.html": (("verdict", "test-mse-against-the-baselines", "per-frequency-performance", "all-frequencies"),
                    "configuration"),
    "compare.html": (("runs", "loss-curves", "per-frequency-test-mse"), "settings-that-differ"),
}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    sys.exit("report_browser_check: no chromium on PATH (apt-get install -y chromium)")


def headless(browser: str, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
             "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]  # the network off
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)


def check(browser: str, page: Path, out: Path) -> list[str]:
    """Problems found (empty: the page passed). Writes <stem>.png into out."""
    url = page.resolve().as_uri()
    shot = out / f"{page.parent.name}-{page.stem}.png"
    headless(browser, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", url)
    dom = headless(browser, "--dump-dom", url).stdout
    problems = [] if shot.is_file() else [f"{page}: no screenshot written"]
    order = re.findall(r'<section id="([^"]+)"', dom)
    first, last = EXPECTED.get(page.name, ((), None))
    if tuple(order[:len(first)]) != first:
        problems.append(f"{page}: sections start {order[:len(first)]}, expected {list(first)}")
    if last and (not order or order[-1] != last):
        problems.append(f"{page}: last section {order[-1:] }, expected {last!r}")
    images = re.findall(r'<img[^>]+src="([^"]*)"', dom)
    if any(not src.startswith("data:image/png;base64,") for src in images):
        problems.append(f"{page}: an image is not embedded")
    print(f"{page}: {len(order)} sections {order}; {len(images)} embedded images; screenshot {shot}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path, help="report.html or compare.html files")
    parser.add_argument("--out", type=Path, default=Path("browser-check"), help="folder for the screenshots")
    args = parser.parse_args(argv)
    browser = chromium()
    args.out.mkdir(parents=True, exist_ok=True)
    problems = [p for page in args.pages for p in check(browser, page, args.out)]
    for problem in problems:
        print(f"FAIL {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
