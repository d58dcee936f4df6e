"""End to end in a real browser: upload the example files, then see the symptom change chart and numbers."""

from __future__ import annotations

import pytest

from evalkit._resources import resource_dir

from .conftest import ARTIFACTS

pytestmark = pytest.mark.browser

TABLES = ("programmes", "participants", "group_sessions", "contacts", "measures")


def test_upload_then_symptom_change(browser, dashboard) -> None:  # noqa: ANN001
    files = [str(resource_dir("examples/data") / f"{t}.csv") for t in TABLES]
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    page.set_default_timeout(60_000)
    try:
        page.goto(dashboard + "/upload")
        page.get_by_text("Single-user mode: no login").wait_for()
        page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(files)
        for t in TABLES:
            page.get_by_text(f"{t}.csv").first.wait_for()
        page.get_by_role("button", name="Check files").click()
        page.get_by_text("What we found").wait_for()
        page.get_by_role("button", name="Store").click()
        page.get_by_text("Stored. The other pages now include these rows.").wait_for()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-upload.png"))

        page.goto(dashboard + "/symptom_change")
        page.get_by_role("heading", name="Symptom change").wait_for()
        chart = page.locator('[data-testid="stVegaLiteChart"]').first
        chart.wait_for()
        chart.locator("canvas, svg").first.wait_for()
        page.get_by_text("The numbers in this chart").first.click()
        cells = page.locator('[data-testid="stDataFrame"]').first
        cells.wait_for()
        assert chart.bounding_box()["height"] > 200
        page.screenshot(path=str(ARTIFACTS / "browser-symptom-change.png"))
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.close()
