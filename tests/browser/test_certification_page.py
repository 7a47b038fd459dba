"""The certification page in a real browser: Debian's Chromium (headless) driven by Playwright.

What a release manager sees must hold, not just what the HTML says: the verdict and its reasons are
visible, the C1-C21 table has its titles and a failure shows its diff and a link to the Allure test,
every plot is decoded by the browser, nothing asks the network, the page fits 1280 px, and the
screenshot is not blank. A run that certified several systems shows one matrix (a column and a
verdict per system, cells with reasons) and Property 6 latency side by side. Both verdicts are
rendered from a realistic run (tests/unit/reports/sample).
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


def _open(
    browser: BrowserContext, directory: Path, failing: bool, several: bool = False
) -> tuple[Page, dict, list[str]]:
    doc, _ = sample.run(directory, failing=failing, several=several)
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

        # one system: no matrix, the page as it always was
        assert doc["systems"] is None
        assert page.locator("#systems").count() == 0
        assert page.locator("#verdict ul.systems").count() == 0

        # properties with their statements, runbooks, chaos, artifacts
        statements = page.locator("#properties blockquote").all_inner_texts()
        assert [p["statement"] in text for p, text in zip(doc["properties"], statements, strict=True)] == [
            True
        ] * len(doc["properties"])
        runbook_rows = page.locator("#runbook_findings table tr")
        assert runbook_rows.count() == 1 + len(doc["runbook_findings"])
        assert page.locator("#chaos table tr").count() == 1 + len(doc["chaos"])
        assert page.locator("#artifacts_sha256 table tr").count() == 1 + len(doc["artifacts_sha256"])

        _plots_fit_and_screenshot(page, tmp_path, failing, asked)
    finally:
        # teardown
        page.close()


def _plots_fit_and_screenshot(page: Page, directory: Path, failing: bool, asked: list[str]) -> None:
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
    shot = directory / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    allure.attach.file(str(shot), name="certification page", attachment_type=allure.attachment_type.PNG)
    spread, colours = _not_blank(shot)
    assert spread > 0.05, spread
    assert colours > 50, colours
    top = mpimg.imread(shot)[:200, :, :3]
    want = np.array([207, 34, 46]) / 255 if failing else np.array([26, 127, 55]) / 255
    assert (np.abs(top - want).sum(axis=2) < 0.05).sum() > 500


@pytest.mark.parametrize("failing", [False, True], ids=["all-certified", "one-not-certified"])
def test_several_systems_are_one_matrix_with_a_verdict_per_system(
    browser: BrowserContext, tmp_path: Path, failing: bool
) -> None:
    # setup: bundled, kubernetes-replicator and ConfigMirror certified in one run
    page, doc, asked = _open(browser, tmp_path, failing, several=True)
    systems = doc["systems"]
    try:
        # assess: the banner names every system with its own verdict, then the reasons
        names = ["bundled", "kubernetes-replicator", "configmirror"]
        assert systems["names"] == names
        listed = page.locator("#verdict ul.systems li").all_inner_texts()
        assert [text.split(":")[0] for text in listed] == names
        for text, verdict in zip(listed, systems["verdicts"], strict=True):
            assert verdict["verdict"] in text
        assert page.locator("#verdict ul.reasons li").all_inner_texts() == doc["reasons"]
        assert page.locator("#verdict .verdict").inner_text() == doc["verdict"]

        # the matrix: one column per system, every row's cells as the JSON says
        matrix = page.locator("#systems table.matrix")
        header = matrix.locator("tr").first.locator("th").all_inner_texts()
        assert header == ["row", *names]
        for row in systems["rows"]:
            shown = matrix.locator(f"tr#m-{row['group']}-{row['key']} td.cell .badge").all_inner_texts()
            assert shown == [row["cells"][n]["outcome"] for n in names], row["key"]
        groups = matrix.locator("tr.group th").all_inner_texts()
        assert groups == ["Properties", "Scenarios", "Chaos experiments"]
        # ConfigMirror's own chaos experiments are its column's, not the bundled operator's
        postgres = matrix.locator("tr#m-chaos-mirror-postgres-kill td.cell")
        assert postgres.evaluate_all("cells => cells.map(c => c.dataset.outcome)") == ["n/a", "n/a", "pass"]

        # a known deviation says what the profile documents
        c16 = matrix.locator("tr#m-scenario-C16 td.cell[data-system=bundled]")
        assert c16.get_attribute("data-outcome") == "known deviation"
        assert "source dropped when list narrowed" in c16.inner_text()

        # a failure says why, with a link to the test in Allure
        p5 = matrix.locator("tr#m-property-5 td.cell[data-system=kubernetes-replicator]")
        if failing:
            assert p5.get_attribute("data-outcome") == "fail"
            assert "not restored within 60 s" in p5.locator(".reason").inner_text()
            assert p5.locator("a[href^='allure-report/index.html#']").is_visible()
            replicator = next(v for v in systems["verdicts"] if v["system"] == "kubernetes-replicator")
            assert replicator["verdict"] == "NOT CERTIFIED"
            reason = "kubernetes-replicator: Property 5 (Secret Replication Consistency): fail"
            assert reason in doc["reasons"]
        else:
            assert p5.get_attribute("data-outcome") == "pass"
            assert [v["verdict"] for v in systems["verdicts"]] == ["CERTIFIED"] * 3

        # Property 6 side by side: one row per system, one plot with every distribution
        latency_rows = page.locator("#systems tr[data-system]").all_inner_texts()
        assert [text.split()[0] for text in latency_rows] == names
        assert page.locator("#systems img.plot").count() == 1

        _plots_fit_and_screenshot(page, tmp_path, failing, asked)
    finally:
        # teardown
        page.close()
