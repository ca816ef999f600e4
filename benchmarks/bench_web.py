"""The browser app: time from clicking Segment to the tumour overlay being visible, on the bundled case, in
headless Chromium; beside it, the same pipeline run by the command line in the same session, so the ratio
shows what the app adds (staging, background process, import into the scene, rendering, transfer).

    .venv/bin/python benchmarks/bench_web.py [--repeats 2]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sacral_tumor_ai.demo import demo_case_path
from SacralTumorAIWeb.server_process import CHROMIUM, CHROMIUM_FLAGS, start_server


def _red_pixels(png: bytes) -> int:
    from matplotlib import image

    pixels = (image.imread(io.BytesIO(png), format="png")[..., :3] * 255).astype(int)
    return int(((pixels[..., 0] > 170) & (pixels[..., 1] < 110) & (pixels[..., 2] < 110)).sum())


def segment_to_overlay(url: str) -> float:
    """Seconds from the Segment click until the views show at least 500 more tumour-red pixels."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, wait_until="networkidle")
        page.wait_for_selector("#sta-segment")
        page.wait_for_timeout(2000)
        baseline = _red_pixels(page.screenshot())
        started = time.perf_counter()
        page.click("#sta-segment")
        while _red_pixels(page.screenshot()) < baseline + 500:
            if time.perf_counter() - started > 900:
                raise RuntimeError("no overlay after 15 minutes")
            page.wait_for_timeout(200)
        elapsed = time.perf_counter() - started
        browser.close()
    return elapsed


def cli_run() -> float:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sacral_tumor_ai", "run", str(demo_case_path()), "--out", out], check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    web, cli = [], []
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):
            process, url = start_server(Path(work) / f"app{repeat}", Path(work) / f"log{repeat}.txt")
            try:
                web.append(segment_to_overlay(url))
            finally:
                process.terminate()
                process.wait(30)
            cli.append(cli_run())
    web_s, cli_s = statistics.median(web), statistics.median(cli)
    print(f"bundled case, {args.repeats} runs each (median), this machine's CPU")
    print(f"  click Segment -> tumour overlay visible in the browser: {web_s:6.1f} s  (runs: {', '.join(f'{v:.1f}' for v in web)})")
    print(f"  sacral-tumor-ai run (same pipeline, command line):       {cli_s:6.1f} s  (runs: {', '.join(f'{v:.1f}' for v in cli)})")
    print(f"  ratio app / command line: {web_s / cli_s:.2f}  (the app's own cost: {web_s - cli_s:+.1f} s)")


if __name__ == "__main__":
    main()
