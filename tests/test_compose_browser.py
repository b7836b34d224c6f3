"""The app's Compose tab in a real headless Chromium: compose the shipped bank, see module weights and answers, bad input."""
import os
import pytest
from conftest import ROOT
from test_app_browser import app_page, plot_rows, wait_plot


@pytest.fixture(scope="module")
def page(app_url):
    with app_page(app_url, height=1600) as pg:
        pg.get_by_role("tab", name="Compose").click()
        yield pg


def wait_status(page, text, timeout=120_000):
    page.wait_for_function(f"() => (document.querySelector('#c-status') || {{innerText: ''}}).innerText.includes({text!r})", timeout=timeout)


def test_compose_shows_weights_contributions_and_answers(page):
    if os.environ.get("PERFT_VIZ_TEST_MODEL"):                 # another base: the bank's own check explains why there is no tab
        assert "does not fit this model" in page.content(); return
    page.locator("#compose-btn").click()
    wait_status(page, "module(s)")
    wait_plot(page, "#c-weights")
    assert plot_rows(page, "#c-weights") == 4                 # the four single-task modules, one row each
    text = page.locator("#c-answers").inner_text()          # base, four single adapters, the composition
    assert all(n in text for n in ("base model", "perft-r/operator", "perft-r/clause_kind", "composed (routed: oracle"))
    assert plot_rows(page, "#c-matrix") > 10                  # the committed interference matrix
    page.screenshot(path=str(ROOT / "assets" / "screenshot-compose.png"), full_page=False)


def test_compose_with_no_adapter_says_so(page):
    if os.environ.get("PERFT_VIZ_TEST_MODEL"): return          # no Compose view on another base (see above)
    for box in page.locator("#c-adapters input[type=checkbox]").all():
        if box.is_checked(): box.uncheck()
    page.locator("#compose-btn").click()
    wait_status(page, "Cannot do that")
    assert "No adapters selected" in page.locator("#c-status").inner_text() and "Traceback" not in page.content()
