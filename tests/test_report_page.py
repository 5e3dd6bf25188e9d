"""The report page: self-contained HTML, and what headless Chromium shows of it.

The browser test needs Debian's ``chromium`` (installed by ``.ci/run``); without it the test is
reported as an error, never skipped, so a CI without a browser cannot pass silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from provcausal.examples import scipipe_gcratio
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report written by ``provcausal report`` on 8 normal and 8 faulty GC-ratio runs."""
    root = tmp_path_factory.mktemp("report")
    scipipe_gcratio.write_runs(root / "normal", 8, seed=0)
    scipipe_gcratio.write_runs(root / "broken", 8, seed=1, count1_max=10)
    store = f"sqlite://{root / 'store.db'}"
    for label in ("normal", "broken"):
        args = ["--store", store, "import", "scipipe", str(root / label), "-w", "gcratio"]
        run_cli(*args, "-l", label).ok()
    out = root / "report.html"
    result = run_cli(
        *[
            "report",
            "--store",
            store,
            "-w",
            "gcratio",
            "-b",
            "normal",
            "-c",
            "broken",
            "--repeats",
            "4",
            "-o",
            str(out),
        ],
    ).ok()
    assert result.out.splitlines()[-1] == f"wrote {out}"
    return out


def test_page_is_self_contained_and_complete(page: Path) -> None:
    text = page.read_text()
    assert "<script" not in text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "@import" not in text and not re.search(r"url\((?!#)", text)  # only url(#marker)
    assert 'id="verdict"' in text and 'class="graph"' in text
    assert "Look at count1 first: its behaviour changed (typical value" in text
    assert text.count('class="dist"') >= 2  # a top node and the target
    assert "contracted atcat (unobserved)" in text
    assert "provcausal --store sqlite://" in text and " report --workflow gcratio " in text
    assert "median before" in text


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise AssertionError("the browser test needs chromium: apt-get install chromium")
    return exe


def render(html: Path, tmp_path: Path) -> tuple[str, str, Path]:
    """(DOM after load, Chromium's log, screenshot) of a local page, with no network."""
    shot = tmp_path / "shot.png"
    common = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    url = html.resolve().as_uri()
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    shoot = subprocess.run(
        [*common, "--window-size=1100,1800", f"--screenshot={shot}", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0 and shoot.returncode == 0, dom.stderr[-500:]
    return dom.stdout, dom.stderr + shoot.stderr, shot


def console_messages(log: str) -> list[str]:
    """Chromium's ``CONSOLE`` log lines: page errors, failed loads, console.* calls."""
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_console_check_catches_a_page_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>console.error('boom'); nosuch();</script></body></html>")
    _, log, _ = render(bad, tmp_path)
    assert console_messages(log), log[-800:]


def test_browser_shows_verdict_and_graph_without_console_errors(page: Path, tmp_path: Path) -> None:
    dom, log, shot = render(page, tmp_path)
    assert console_messages(log) == []
    verdict = re.search(r'<p class="verdict" id="verdict">([^<]+)</p>', dom)
    assert verdict and "count1" in verdict.group(1)
    assert re.search(r'<svg[^>]*class="graph"', dom)
    assert dom.count('<g class="node">') >= 9
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    # The screenshot's width and height come from the PNG header: the window asked for.
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1100, 1800)
