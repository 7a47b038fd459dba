"""The certification page in a real browser: Debian's Chromium (headless) driven by Playwright.

What a release manager sees must hold, not just what the HTML says: the verdict (CERTIFIED, NOT
CERTIFIED or NO VERDICT, each in its own colour) with its cause on the banner's first line, every
reason as system · check · cause (failures first, then what could not be judged), the C1-C21 table
with a failure's diff and a link to the Allure test, chaos experiments that could not judge or did
not apply told apart from passes and failures, the contract traceability table with every test id
in full (at most one click away), every plot decoded by the browser, nothing asked of the network,
nothing wider than 1280 px (the page, any element, any table cell's content; also with every
collapsed list opened), and a screenshot that is not blank. A run that certified several systems
shows one matrix (a column and a verdict per system, cells with reasons) and Property 6 latency side
by side. Every run is rendered from realistic data (tests/unit/reports/sample: the suites' scenario
names, every test id of the repository in the traceability table, the real mutants).
The browser is the system's (``make browser`` installs Debian's ``chromium``), never a download.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
#: the banner's colour of each verdict: NO VERDICT is neither the red nor the green
COLOURS = {"CERTIFIED": (26, 127, 55), "NOT CERTIFIED": (207, 34, 46), "NO VERDICT": (188, 76, 0)}
#: the single-system runs: sample.run's arguments and the verdict a reader must see
RUNS = {
    "certified": ({"failing": False}, "CERTIFIED"),
    "not-certified": ({"failing": True}, "NOT CERTIFIED"),
    "no-verdict": ({"failing": False, "no_verdict": True}, "NO VERDICT"),
}
#: every element whose box ends right of the viewport, and every table cell whose content is wider
#: than the cell (it would spill over its neighbour even when the page itself does not scroll)
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const describe = e => `${e.tagName.toLowerCase()}.${e.className} "${e.innerText.slice(0, 60)}"`;
  const wide = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > width + 0.5)
    .map(e => `${describe(e)} ends at ${e.getBoundingClientRect().right}px`);
  const spilling = [...document.querySelectorAll("td, th")]
    .filter(c => c.scrollWidth > c.clientWidth + 1)
    .map(c => `${describe(c)}: content ${c.scrollWidth}px in ${c.clientWidth}px`);
  return {scrollWidth: document.documentElement.scrollWidth, clientWidth: width, wide, spilling};
}"""


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


def _open(browser: BrowserContext, directory: Path, **run: bool) -> tuple[Page, dict, list[str]]:
    doc, _ = sample.run(directory, **run)
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


def _not_blank(pixels: np.ndarray) -> tuple[float, int]:
    """Spread (standard deviation, 0-1) and number of distinct colours of an RGB image in 0-1."""
    rgb = np.rint(pixels * 255).astype(np.uint32)
    packed = (rgb[:, :, 0] << 16) | (rgb[:, :, 1] << 8) | rgb[:, :, 2]
    return float(pixels.std(dtype=np.float32)), len(np.unique(packed))


def _rgb(colour: tuple[int, int, int]) -> str:
    return "rgb({}, {}, {})".format(*colour)


def _reason_line(reason: Any) -> str:
    """What the banner must show for one reason: system · check · cause (the run itself when it has
    no system); a plain-string reason (schema 1) is its own cause."""
    if isinstance(reason, str):
        return reason
    system = "the run" if reason["system"] is None else reason["system"]
    return " · ".join(part for part in (system, reason["check"], reason["cause"]) if part)


def _reasons_in_order(reasons: list[Any]) -> list[str]:
    """Failures of a system first, then the checks that could not judge, each in the JSON's order."""
    unjudged = [isinstance(r, dict) and r["outcome"] == "NO VERDICT" for r in reasons]
    failures = [r for r, nv in zip(reasons, unjudged, strict=True) if not nv]
    return [_reason_line(r) for r in failures + [r for r, nv in zip(reasons, unjudged, strict=True) if nv]]


def _check_banner(page: Page, doc: dict, verdict: str) -> None:
    """The verdict in its colour, its cause on the same first line, then every reason, grouped."""
    assert doc["verdict"] == verdict
    banner = page.locator("#verdict")
    shown = banner.locator(".headline .verdict")
    assert shown.is_visible()
    assert shown.inner_text() == verdict
    assert banner.evaluate("e => getComputedStyle(e).borderTopColor") == _rgb(COLOURS[verdict])
    assert shown.evaluate("e => getComputedStyle(e).color") == _rgb(COLOURS[verdict])
    cause = banner.locator(".headline .cause")
    if verdict == "CERTIFIED":
        assert cause.count() == 0
        assert banner.locator("ul.reasons li").count() == 0
        assert "Every gate held" in banner.inner_text()
        return
    # the verdict's first line (schema 2 headline) follows the verdict on its first line of text
    assert doc["headline"].startswith(f"{verdict}: ")
    assert cause.inner_text() == doc["headline"].removeprefix(f"{verdict}: ")
    first_cause_line = cause.evaluate("e => e.getClientRects()[0].top")
    assert first_cause_line < shown.evaluate("e => e.getBoundingClientRect().bottom")

    lines = banner.locator("ul.reasons li")
    assert lines.all_inner_texts() == _reasons_in_order(doc["reasons"])
    outcomes = lines.evaluate_all("items => items.map(i => i.dataset.outcome)")
    assert outcomes == sorted(outcomes, key=lambda o: o == "NO VERDICT")
    assert lines.first.is_visible()
    if "NO VERDICT" in outcomes:
        group = banner.locator("p.group.none")
        assert group.is_visible()
        assert "never count against a system" in group.inner_text()
        assert group.evaluate("e => getComputedStyle(e).color") == _rgb(COLOURS["NO VERDICT"])


def _chaos_outcome(record: dict) -> str:
    return record.get("verdict") or ("pass" if record["passed"] else "fail")


def _check_chaos(page: Page, doc: dict) -> None:
    """One row per experiment; no verdict and n/a are their own outcomes, with what was missing."""
    rows = page.locator("#chaos table tr[data-experiment]")
    assert rows.count() == len(doc["chaos"])
    by_key = sorted(doc["chaos"], key=lambda e: e["experiment"])
    shown = rows.evaluate_all("rows => rows.map(r => r.querySelector('.badge').innerText)")
    assert shown == [_chaos_outcome(e) for e in by_key]
    colours = rows.evaluate_all(
        "rows => rows.map(r => getComputedStyle(r.querySelector('.badge')).backgroundColor)"
    )
    colour_of = {}
    for record, colour in zip(by_key, colours, strict=True):
        colour_of.setdefault(_chaos_outcome(record), set()).add(colour)
    assert all(len(c) == 1 for c in colour_of.values()), colour_of  # one colour per outcome
    assert len({next(iter(c)) for c in colour_of.values()}) == len(colour_of)  # none shared
    for i, record in enumerate(by_key):
        text = rows.nth(i).inner_text()
        for line in [*record.get("no_evidence", []), *record.get("not_applicable", [])]:
            assert line in text, (record["experiment"], line)


def _check_traceability(page: Page, doc: dict) -> None:
    """Every contract item with all its tests as full pytest ids: the first four shown, the rest
    one click away."""
    rows = doc["traceability"]["rows"]
    table = page.locator("#traceability table tr[data-id]")
    assert table.count() == len(rows)
    ids = table.evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('code.test-id')].map(c => c.textContent))"
    )
    assert ids == [r["tests"] for r in rows]
    widest = max(range(len(rows)), key=lambda i: len(rows[i]["tests"]))
    assert len(rows[widest]["tests"]) > 20  # realistic: one item is checked by many tests
    cell = table.nth(widest).locator("td.tests")
    visible = cell.locator("code.test-id:visible")
    assert visible.all_inner_texts() == rows[widest]["tests"][:4]
    cell.locator("details > summary").click()
    assert visible.all_inner_texts() == rows[widest]["tests"]
    longest = max((t for r in rows for t in r["tests"]), key=len)
    assert len(longest) > 100, longest  # the ids that made the page 1597 px wide in Chromium 156
    page.locator("details").evaluate_all("all => all.forEach(d => d.open = false)")


def _check_fits(page: Page) -> None:
    """Readable at 1280 px: nothing scrolls sideways and no cell spills, collapsed or expanded."""
    for state in ("as opened", "every list expanded"):
        if state == "every list expanded":
            page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
        found = page.evaluate(OVERFLOW)
        assert found["clientWidth"] == WIDTH, found
        assert found["scrollWidth"] <= found["clientWidth"], (state, found)
        assert found["wide"] == [], (state, found["wide"][:10])
        assert found["spilling"] == [], (state, found["spilling"][:10])
    page.locator("details").evaluate_all("all => all.forEach(d => d.open = false)")


@pytest.mark.parametrize("run", list(RUNS))
def test_a_release_manager_sees_the_verdict_tables_and_plots(
    browser: BrowserContext, tmp_path: Path, run: str
) -> None:
    # setup
    arguments, verdict = RUNS[run]
    page, doc, asked = _open(browser, tmp_path, **arguments)
    try:
        # assess: the verdict, its cause and every reason
        _check_banner(page, doc, verdict)
        if run == "no-verdict":  # a harness fault: the run's, never the system's
            harness = [r for r in doc["reasons"] if r["system"] is None]
            assert [r["outcome"] for r in harness] == ["NO VERDICT"]
            assert "chromium is missing" in harness[0]["cause"]
            fault = page.locator("#verdict ul.reasons.no-verdict li", has_text="chromium is missing")
            assert fault.inner_text().startswith("the run · tests/browser/test_certification_page.py::")
            assert page.locator("#verdict ul.reasons.failures").count() == 0

        # the C1-C21 table: every behaviour with its title and outcome
        shown = page.locator("#conformance table tr[id^=C]").evaluate_all(
            "rows => rows.map(r => [...r.cells].slice(0, 3).map(c => c.innerText.trim()))"
        )
        assert shown == [[c["id"], c["title"], c["outcome"]] for c in doc["conformance"]]
        assert all(title for _, title, _ in shown)
        c12 = page.locator("#conformance tr#C12")
        if run == "not-certified":
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

        # properties with their statements, runbooks, chaos, traceability, mutation, artifacts
        statements = page.locator("#properties blockquote").all_inner_texts()
        assert [p["statement"] in text for p, text in zip(doc["properties"], statements, strict=True)] == [
            True
        ] * len(doc["properties"])
        runbook_rows = page.locator("#runbook_findings table tr")
        assert runbook_rows.count() == 1 + len(doc["runbook_findings"])
        _check_chaos(page, doc)
        if run == "no-verdict":
            outcomes = page.locator("#chaos tr[data-experiment]").evaluate_all(
                "rows => rows.map(r => r.dataset.outcome)"
            )
            assert sorted(set(outcomes)) == ["n/a", "no verdict", "pass"]
        _check_traceability(page, doc)
        mutants = page.locator("#mutation table tr[data-mutant]")
        assert mutants.count() == len(doc["mutation"]["mutants"])
        assert page.locator("#artifacts_sha256 table tr").count() == 1 + len(doc["artifacts_sha256"])

        _plots_fit_and_screenshot(page, tmp_path, verdict, asked)
    finally:
        # teardown
        page.close()


def _plots_fit_and_screenshot(page: Page, directory: Path, verdict: str, asked: list[str]) -> None:
    # every plot decoded by the browser, shown at a readable size
    images = page.locator("img.plot")
    assert images.count() == 2
    for i in range(images.count()):
        natural, shown = images.nth(i).evaluate("i => [i.complete && i.naturalWidth, i.clientWidth]")
        assert natural > 400, (i, natural)
        assert shown > 400, (i, shown)

    # readable at 1280 px; and nothing asked the network
    _check_fits(page)
    assert asked == []

    # the screenshot is not blank, and its top shows the verdict's colour
    shot = directory / "screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    allure.attach.file(str(shot), name="certification page", attachment_type=allure.attachment_type.PNG)
    pixels = mpimg.imread(shot)[:, :, :3]
    spread, colours = _not_blank(pixels[::4, ::4])  # every 16th pixel: the page is 20,000+ px tall
    assert spread > 0.05, spread
    assert colours > 50, colours
    top = pixels[:200]
    want = np.array(COLOURS[verdict]) / 255
    assert (np.abs(top - want).sum(axis=2) < 0.05).sum() > 500


@pytest.mark.parametrize("failing", [False, True], ids=["all-certified", "one-not-certified"])
def test_several_systems_are_one_matrix_with_a_verdict_per_system(
    browser: BrowserContext, tmp_path: Path, failing: bool
) -> None:
    # setup: bundled, kubernetes-replicator and ConfigMirror certified in one run
    page, doc, asked = _open(browser, tmp_path, failing=failing, several=True)
    systems = doc["systems"]
    try:
        # assess: the banner names every system with its own verdict, then the reasons
        names = ["bundled", "kubernetes-replicator", "configmirror"]
        assert systems["names"] == names
        listed = page.locator("#verdict ul.systems li")
        texts = listed.all_inner_texts()
        assert [text.split(":")[0] for text in texts] == names
        for text, verdict in zip(texts, systems["verdicts"], strict=True):
            assert verdict["verdict"] in text
        badges = listed.locator(".badge").evaluate_all("bs => bs.map(b => getComputedStyle(b).color)")
        assert badges == [_rgb(COLOURS[v["verdict"]]) for v in systems["verdicts"]]
        _check_banner(page, doc, "NOT CERTIFIED" if failing else "CERTIFIED")

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
        outcome = "no verdict" if failing else "pass"
        assert postgres.evaluate_all("cells => cells.map(c => c.dataset.outcome)") == ["n/a", "n/a", outcome]

        # a known deviation says what the profile documents
        c16 = matrix.locator("tr#m-scenario-C16 td.cell[data-system=bundled]")
        assert c16.get_attribute("data-outcome") == "known deviation"
        assert "source dropped when list narrowed" in c16.inner_text()

        # a failure says why, with a link to the test in Allure; a check without evidence is
        # ConfigMirror's NO VERDICT, listed after the failures, not one of them
        p5 = matrix.locator("tr#m-property-5 td.cell[data-system=kubernetes-replicator]")
        if failing:
            assert p5.get_attribute("data-outcome") == "fail"
            assert "not restored within 60 s" in p5.locator(".reason").inner_text()
            assert p5.locator("a[href^='allure-report/index.html#']").is_visible()
            verdicts = {v["system"]: v["verdict"] for v in systems["verdicts"]}
            assert verdicts["kubernetes-replicator"] == "NOT CERTIFIED"
            assert verdicts["configmirror"] == "NO VERDICT"
            failure = page.locator("#verdict ul.reasons.failures li", has_text="kubernetes-replicator")
            assert failure.inner_text().startswith("kubernetes-replicator · Property 5")
            assert "not restored within 60 s" in failure.inner_text()
            unjudged = page.locator("#verdict ul.reasons.no-verdict li")
            assert unjudged.all_inner_texts() == [
                f"configmirror · chaos mirror-postgres-kill · {sample.MIRROR_NO_EVIDENCE}"
            ]
        else:
            assert p5.get_attribute("data-outcome") == "pass"
            assert [v["verdict"] for v in systems["verdicts"]] == ["CERTIFIED"] * 3

        # Property 6 side by side: one row per system, one plot with every distribution
        latency_rows = page.locator("#systems tr[data-system]").all_inner_texts()
        assert [text.split()[0] for text in latency_rows] == names
        assert page.locator("#systems img.plot").count() == 1

        _check_chaos(page, doc)
        _plots_fit_and_screenshot(page, tmp_path, doc["verdict"], asked)
    finally:
        # teardown
        page.close()
