"""The app in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright)."""
import contextlib, shutil
import pytest
from playwright.sync_api import sync_playwright
from conftest import ROOT, n_routed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def open_app(pg, url):
    "Load the app and wait for it to render (the page keeps a heartbeat stream open, so the network is never idle)."
    pg.goto(url, wait_until="load")
    pg.wait_for_selector("#route-btn", timeout=60_000)


@contextlib.contextmanager
def app_page(url, height=1400):
    "A headless Chromium page with the app loaded; the browser closes on exit."
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": height})
        open_app(pg, url)
        try: yield pg
        finally: browser.close()


@pytest.fixture(scope="module")
def page(app_url):
    with app_page(app_url) as pg: yield pg


def plot_rows(page, sel):
    "Rows of the first trace of the plotly figure in `sel`, as plotly holds them in the page (-1: no figure yet)."
    return page.evaluate(f"() => {{ const d = document.querySelector('{sel} .js-plotly-plot');"
                         " return d && d.data ? d.data[0].z.length : -1; }")


def set_number(page, sel, value):
    "Type `value` into the number box `sel` and commit it with Tab: a click that lands before the commit reads the old value (a 200-step run, not 6)."
    box = page.locator(f"{sel} input")
    box.fill(str(value)); box.press("Tab")
    assert box.input_value() == str(value)


def wait_plot(page, sel, timeout=60_000):
    "Wait until the plotly figure in `sel` has a trace with rows."
    page.wait_for_function(f"() => {{ const d = document.querySelector('{sel} .js-plotly-plot');"
                           " return d && d.data && d.data[0].z.length > 0; }", timeout=timeout)


def route(page, text):
    page.locator("#prompt textarea").fill(text)
    page.locator("#route-btn").click()


def test_heatmap_has_one_row_per_token(page):
    route(page, "12 + 7 = 19")
    wait_plot(page, "#heatmap")
    assert plot_rows(page, "#heatmap") == n_routed(page.locator("#status").inner_text())
    # the highlighted-text view shows one coloured span per token, labelled with an expert
    assert page.locator("#top1").inner_text().count("E") >= 1
    page.screenshot(path=str(ROOT / "assets" / "screenshot.png"), full_page=False)


def test_empty_prompt_shows_message_and_server_keeps_serving(page):
    route(page, "   ")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('Cannot do that')", timeout=30_000)
    assert "Traceback" not in page.content()
    route(page, "abc")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('Routed')", timeout=60_000)
    assert plot_rows(page, "#heatmap") > 0


def test_neurons_of_one_token(page):
    page.get_by_role("tab", name="Neurons").click()
    page.locator("#neurons-btn").click()
    wait_plot(page, "#neurons")
    status = page.locator("#n-status").inner_text()
    assert status.startswith("Token 0") and "strongest neurons E" in status
    # one heatmap row per expert the token was routed to (TinyOLMoE: top-2)
    assert plot_rows(page, "#neurons") == 2
    page.screenshot(path=str(ROOT / "assets" / "screenshot-neurons.png"), full_page=False)
    page.get_by_role("tab", name="Routing").click()


def test_live_training_streams_and_adapter_routes(page):
    page.get_by_role("tab", name="Train").click()
    set_number(page, "#steps", 6)
    page.locator("#train-btn").click()
    # the timer streams records into the loss plot while the run goes on, and says when it is done
    page.wait_for_function("() => document.querySelector('#train-status').innerText.includes('step 6/6')", timeout=240_000)
    n_points = page.evaluate("() => { const d = document.querySelector('#loss-plot .js-plotly-plot');"
                             " return d && d.data ? d.data[0].x.length : -1; }")
    assert n_points >= 2                       # several steps arrived, not only the last one
    page.screenshot(path=str(ROOT / "assets" / "screenshot-train.png"), full_page=False)
    page.get_by_role("tab", name="Adapter").click()
    page.locator("#adapter-btn").click()
    wait_plot(page, "#peft-routing")
    status = page.locator("#a-status").inner_text()
    assert "PERFT-R Top2/8" in status
    assert plot_rows(page, "#peft-routing") == n_routed(status)
    # the composed model's answer next to the base model's, for one task input
    page.locator("#answer-btn").click()
    page.wait_for_function("() => document.querySelector('#answer-status').innerText.includes('on operator')", timeout=60_000)
    assert "Cannot do that" not in page.locator("#answer-status").inner_text()
    page.screenshot(path=str(ROOT / "assets" / "screenshot-adapter.png"), full_page=True)


def test_two_sessions_each_see_only_their_own_adapter(page, app_url):
    "Two more pages (two sessions) train adapters of different sizes; each page's Adapter tab shows its own."
    browser = page.context.browser
    contexts = [browser.new_context(viewport={"width": 1280, "height": 1400}) for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    for pg, m in zip(pages, ("4", "8")):
        open_app(pg, app_url)
        pg.get_by_role("tab", name="Train").click()
        set_number(pg, "#experts", m); set_number(pg, "#steps", 4)
    for pg in pages: pg.locator("#train-btn").click()
    for pg in pages:
        pg.wait_for_function("() => document.querySelector('#train-status').innerText.includes('step 4/4')", timeout=240_000)
    statuses = []
    for pg in pages:
        pg.get_by_role("tab", name="Adapter").click()
        pg.locator("#adapter-btn").click()
        pg.wait_for_function("() => document.querySelector('#a-status').innerText.includes('routed')", timeout=60_000)
        statuses.append(pg.locator("#a-status").inner_text())
    assert statuses[0].startswith("PERFT-R Top2/4 of session ") and statuses[1].startswith("PERFT-R Top2/8 of session "), statuses
    tags = [s.split("of session ")[1].split(":")[0] for s in statuses]
    assert tags[0] != tags[1]
    # a page's export holds its own view's figures and data
    pages[0].locator("#export-adapter-btn").click()
    pages[0].wait_for_function("() => document.querySelector('#export-adapter').innerText.includes('.json')", timeout=60_000)
    names = pages[0].locator("#export-adapter").inner_text().replace("\n.", ".")   # the list breaks a name before its suffix
    assert all(n in names for n in ("adapter-peft_routing.html", "adapter-norms.html", "adapter.csv", "adapter.json")), names
    for c in contexts: c.close()
