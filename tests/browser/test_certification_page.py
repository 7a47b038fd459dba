"""The certification page in a real browser: Debian's Chromium (headless) driven by Playwright.

What a release manager sees must hold, not just what the HTML says: the verdict and its reasons are
visible, the C1-C21 table has its titles and a failure shows its diff and a link to the Allure test,
every plot is decoded by the browser, nothing asks the network, the page fits 1280 px, and the
screenshot is not blank. Both verdicts are rendered from a realistic run (tests/unit/reports/sample).
The browser is the system's (``make browser`` installs Debian's ``chromium``), never a download.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import allure
import numpy as np
import pytest
from matplotlib import image as mpimg
from playwright.sync_api import BrowserContext, Page, sync_playwright

from reports.page import render_html
from tests.unit.reports import sample

CHROMIUM = Path(os.environ.get("REPLICHECK_CHROMIUM", "/usr/bin/chromium"))
# Told not to phone home or touch anything outside its own fresh profile.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
]
WIDTH = 1280


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    """One headless Chromium with a fresh profile directory, removed afterwards."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium) or set CHROMIUM="
        )
    profile = tempfile.mkdtemp(prefix="replicheck-chromium-")
    try:
        with sync_playwright() as pw:
            instance = pw.chromium.launch_persistent_context(
                profile,
                executable_path=str(CHROMIUM),
                headless=True,
                args=FLAGS,
                viewport={"width": WIDTH, "height": 900},
            )
            try:
                yield instance
            finally:
                instance.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert not Path(profile).exists()


def _open(browser: BrowserContext, directory: Path, failing: bool) -> tuple[Page, dict, list[str]]:
    doc, _ = sample.run(directory, failing=failing)
    page_path = directory / "certification.html"
    page_path.write_text(render_html(doc, directory))
    asked: list[str] = []

    def refuse(route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            asked.append(url)
            route.abort()

    page = browser.new_page()
    page.route("**/*", refuse)
    page.goto(page_path.as_uri())
    page.wait_for_load_state("load")
    return page, doc, asked


def _not_blank(png: Path) -> tuple[float, int]:
    pixels = (mpimg.imread(png)[:, :, :3] * 255).astype(np.uint32)
    packed = (pixels[:, :, 0] << 16) | (pixels[:, :, 1] << 8) | pixels[:, :, 2]
    return float(pixels.std() / 255), len(np.unique(packed))


@pytest.mark.parametrize("failing", [False, True], ids=["certified", "not-certified"])
def test_a_release_manager_sees_the_verdict_tables_and_plots(
    browser: BrowserContext, tmp_path: Path, failing: bool
) -> None:
    # setup
    page, doc, asked = _open(browser, tmp_path, failing)
    try:
        # assess: the verdict and why
        verdict = page.locator("#verdict .verdict")
        assert verdict.is_visible()
        assert verdict.inner_text() == ("NOT CERTIFIED" if failing else "CERTIFIED")
        reasons = page.locator("#verdict ul.reasons li")
        assert reasons.all_inner_texts() == doc["reasons"]
        if failing:
            assert reasons.first.is_visible()
        banner_colour = page.locator("#verdict").evaluate("e => getComputedStyle(e).borderTopColor")
        assert banner_colour == ("rgb(207, 34, 46)" if failing else "rgb(26, 127, 55)")

        # the C1-C21 table: every behaviour with its title and outcome
        shown = page.locator("#conformance table tr[id^=C]").evaluate_all(
            "rows => rows.map(r => [...r.cells].slice(0, 3).map(c => c.innerText.trim()))"
        )
        assert shown == [[c["id"], c["title"], c["outcome"]] for c in doc["conformance"]]
        assert all(title for _, title, _ in shown)
        c12 = page.locator("#conformance tr#C12")
        if failing:
            assert "differs from the source" in c12.locator("pre").inner_text()
            failed = next(sc for sc in doc["conformance"][11]["scenarios"] if sc["outcome"] == "fail")
            link = c12.locator(f"a[href$='#{failed['allure_uuid']}']")
            assert link.count() == 1
            assert link.is_visible()
        else:
            assert c12.locator("pre").count() == 0

        # properties with their statements, runbooks, chaos, artifacts
        statements = page.locator("#properties blockquote").all_inner_texts()
        assert [p["statement"] in text for p, text in zip(doc["properties"], statements, strict=True)] == [
            True
        ] * len(doc["properties"])
        runbook_rows = page.locator("#runbook_findings table tr")
        assert runbook_rows.count() == 1 + len(doc["runbook_findings"])
        assert page.locator("#chaos table tr").count() == 1 + len(doc["chaos"])
        assert page.locator("#artifacts_sha256 table tr").count() == 1 + len(doc["artifacts_sha256"])

        # every plot decoded by the browser, shown at a readable size
        images = page.locator("img.plot")
        assert images.count() == 2
        for i in range(images.count()):
            natural, shown = images.nth(i).evaluate("i => [i.complete && i.naturalWidth, i.clientWidth]")
            assert natural > 400, (i, natural)
            assert shown > 400, (i, shown)

        # readable at 1280 px: nothing scrolls sideways; and nothing asked the network
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        assert asked == []

        # the screenshot is not blank, and its top shows the verdict's colour
        shot = tmp_path / "screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        allure.attach.file(str(shot), name="certification page", attachment_type=allure.attachment_type.PNG)
        spread, colours = _not_blank(shot)
        assert spread > 0.05, spread
        assert colours > 50, colours
        top = mpimg.imread(shot)[:200, :, :3]
        want = np.array([207, 34, 46]) / 255 if failing else np.array([26, 127, 55]) / 255
        assert (np.abs(top - want).sum(axis=2) < 0.05).sum() > 500
    finally:
        # teardown
        page.close()
