"""A visitor's run in a real headless Chromium: a non-default router kind, the held-out score when it ends, the way on to Adapter,
router saturation in Analyses, and a click on a heatmap row that follows its token."""
import re
import pytest
from conftest import ROOT
from test_app_browser import app_page, plot_rows, set_number
from test_app_teach_browser import text_has, route, wait_points

@pytest.fixture(scope="module")
def page(app_url):
    with app_page(app_url) as pg: yield pg

def heatmap_row_xy(page, row:int) -> dict:
    "Page coordinates of the middle of `row` (a token) at expert 0 of the Routing heatmap, from plotly's own axes."
    page.locator("#heatmap").scroll_into_view_if_needed()
    return page.evaluate("""row => { const d = document.querySelector('#heatmap .js-plotly-plot'), fl = d._fullLayout;
        const r = d.getBoundingClientRect();
        return {x: r.left + fl._size.l + fl.xaxis.l2p(0), y: r.top + fl._size.t + fl.yaxis.l2p(row)}; }""", row)

def test_click_a_heatmap_row_to_follow_its_token(page):
    text_has(page, "#status", "Routed", timeout=180_000)      # the page routed its example on load: it is ready for input
    route(page, "The patient was given 5 mg", timeout=180_000)
    wait_points(page, "#heatmap")
    xy = heatmap_row_xy(page, 3)
    page.mouse.move(xy["x"], xy["y"]); page.mouse.click(xy["x"], xy["y"])
    text_has(page, "#path-status", "Token 3 '", timeout=180_000)
    wait_points(page, "#token-path")
    n_layers = int(re.search(r"through (\d+) layers", page.locator("#status").inner_text()).group(1))
    assert plot_rows(page, "#token-path") == n_layers
    page.get_by_role("tab", name="Neurons").click()            # Neurons got the clicked token too
    assert page.locator("#n-prompt textarea").input_value() == "The patient was given 5 mg"
    page.get_by_role("tab", name="Routing").click()
    xy = heatmap_row_xy(page, 1)                                # a second click, another row
    page.mouse.move(xy["x"], xy["y"]); page.mouse.click(xy["x"], xy["y"])
    text_has(page, "#path-status", "Token 1 '", timeout=180_000)

def test_saturation_without_a_run_says_how_to_get_one(page):
    page.get_by_role("tab", name="Analyses").click()
    page.locator("#saturation-btn").click()
    text_has(page, "#saturation-note", "no training run yet")
    assert "Train tab" in page.locator("#saturation-note").inner_text()

def pick(page, sel, starts):
    "Choose the option of the dropdown `sel` whose label starts with `starts`."
    page.locator(f"{sel} input").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(starts))).click()

def test_train_a_kmeans_router_and_see_held_out_exact_match(page):
    page.get_by_role("tab", name="Train").click()
    for sel in ("#router", "#placement", "#expert-type", "#init"):
        assert page.locator(sel).inner_text().strip()          # each control shows its line of explanation
    pick(page, "#router", "kmeans")
    set_number(page, "#steps", 40)                           # long enough for the screenshot to show some learning (~20 s)
    page.locator("#train-btn").click()
    try: text_has(page, "#score-status", "Held-out exact match", timeout=300_000)   # no button: the run scores itself
    except Exception:
        page.locator("#stop-btn").click(); raise
    status = page.locator("#train-status").inner_text()
    assert "PERFT-R Top2/8 (kmeans)" in status and "k-means router: 8 centroids" in status and "done" in status, status
    assert re.search(r"base \d+%, with the adapter \d+%; always giving the most common answer: \d+%", page.locator("#score-status").inner_text())
    wait_points(page, "#score-plot")
    page.screenshot(path=str(ROOT / "assets" / "screenshot-train-end.png"), full_page=False)
    page.locator("#goto-adapter").click()                       # the way on: the Adapter tab, routed through this adapter
    text_has(page, "#a-status", "PERFT-R Top2/8 (kmeans)", timeout=180_000)
    wait_points(page, "#peft-routing")
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-btn").wait_for(state="visible")
    if page.locator("#cmp-source").is_visible():                # the shipped bank fits: Compare was left on a shipped adapter
        page.get_by_label("a shipped adapter").check()
        page.locator("#cmp-shipped").wait_for(state="visible")
    page.get_by_role("tab", name="Train").click()
    page.locator("#goto-compare").click()                       # and on to Compare, run on this adapter whatever the source was
    text_has(page, "#c-status", "Routing moved most", timeout=180_000)
    assert not page.locator("#c-status").inner_text().startswith("Base vs")   # not a shipped adapter's comparison
    assert not page.locator("#cmp-source").is_visible() or page.locator("#cmp-source").get_by_label("your adapter", exact=True).is_checked()

def test_saturation_after_a_run(page):
    page.get_by_role("tab", name="Analyses").click()
    page.locator("#saturation-btn").click()
    text_has(page, "#saturation-note", "At step 40", timeout=180_000)
    note = page.locator("#saturation-note").inner_text()
    assert "PEFT routers still chose" in note and "base routers still chose" in note and "of their step-0 top-k" in note
    wait_points(page, "#saturation")
    assert page.evaluate("() => document.querySelector('#saturation .js-plotly-plot').data.length") == 4
    pick(page, "#sat-a", "step 20")                                # the visitor picks another pair
    text_has(page, "#saturation-note", "of their step-20 top-k", timeout=180_000)
    page.locator("#saturation").scroll_into_view_if_needed()
    page.screenshot(path=str(ROOT / "assets" / "screenshot-saturation.png"), full_page=False)
