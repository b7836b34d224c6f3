"""The teaching views in a real headless Chromium: the page explains itself, a clicked token is followed, analyses, geometry, compare."""
import re
import pytest
from transformers import AutoTokenizer
from perft_viz.core import TINY_OLMOE_DIR
from conftest import ARTIFACTS, ROOT, n_routed
from test_app_browser import app_page, plot_rows, set_number

@pytest.fixture(scope="module")
def page(app_url):
    with app_page(app_url) as pg: yield pg

def text_has(page, sel, s, timeout=90_000):
    "Wait until the element `sel` exists and its text contains `s`."
    page.wait_for_function(f"() => {{ const e = document.querySelector('{sel}'); return e && e.innerText.includes({s!r}); }}", timeout=timeout)

def route(page, text, timeout=90_000):
    "Type `text`, press Enter, and wait until the token strip shows it (partial-character markers aside)."
    page.locator("#prompt textarea").fill(text)
    page.locator("#prompt textarea").press("Enter")
    page.wait_for_function("t => Array.from(document.querySelectorAll('#top1 .token .text')).map(e => e.innerText).join('')"
                           ".replaceAll('\u00b7', '').replace(/\\s/g, '') === t.replace(/\\s/g, '')", arg=text, timeout=timeout)

def wait_points(page, sel, timeout=60_000):
    "Wait until the plotly figure in `sel` is drawn with points (the status line can arrive before it)."
    page.wait_for_function(f"() => {{ const d = document.querySelector('{sel} .js-plotly-plot');"
                           " return d && d.data && d.data.some(t => (t.x && t.x.length) || (t.z && t.z.length) || t.cells); }", timeout=timeout)

def plot_title(page, sel):
    return page.evaluate(f"() => {{ const d = document.querySelector('{sel} .js-plotly-plot'); return d && d.layout ? d.layout.title.text : ''; }}")

def n_points(page, sel):
    "Points of every trace of the plotly figure in `sel` (-1: no figure yet)."
    return page.evaluate(f"() => {{ const d = document.querySelector('{sel} .js-plotly-plot');"
                         " return d && d.data ? d.data.reduce((n, t) => n + (t.x ? t.x.length : 0), 0) : -1; }")

def test_routing_explains_itself_and_is_shown_on_load(page):
    text_has(page, "#status", "Routed")                       # no click: the example was routed when the page loaded
    wait_points(page, "#heatmap")
    assert plot_rows(page, "#heatmap") == n_routed(page.locator("#status").inner_text())
    assert "router" in page.locator("#intro").inner_text() and "Click a token" in page.locator("#intro").inner_text()
    page.get_by_text("Glossary").click()
    text_has(page, "#glossary", "top-k")

def test_examples_run_and_every_control_reroutes(page):
    tok = AutoTokenizer.from_pretrained(TINY_OLMOE_DIR)
    n_tokens = lambda text: len(tok(text, add_special_tokens=False).input_ids)   # the app routes the prompt without <bos>
    page.get_by_text("reverse pencil -> licnep", exact=True).first.click()   # an example routes at once
    text_has(page, "#status", f"Routed {n_tokens('reverse pencil -> licnep')} tokens")
    page.wait_for_function("() => { const d = document.querySelector('#heatmap .js-plotly-plot');"
                           " return d && d.layout.yaxis.ticktext.some(t => t.includes('reverse')); }", timeout=60_000)
    box = page.locator("#layer input[type=number]")
    box.fill("2"); box.press("Enter")                          # a typed layer re-routes
    page.wait_for_function("() => { const d = document.querySelector('#heatmap .js-plotly-plot'); return d && d.layout.title.text.includes('layer 2'); }",
                           timeout=60_000)
    page.locator("#prompt textarea").fill("12 + 7 = 19")
    page.locator("#prompt textarea").press("Enter")            # Enter routes (no newline)
    text_has(page, "#status", f"Routed {n_tokens('12 + 7 = 19')} tokens")   # a different count from the example's
    assert n_tokens("12 + 7 = 19") != n_tokens("reverse pencil -> licnep")
    assert "\n" not in page.locator("#prompt textarea").input_value()

def test_non_ascii_tokens_are_readable(page):
    route(page, "héllo 😀 中文")
    assert "😀" in page.locator("#top1").inner_text()
    assert "\ufffd" not in page.locator("#top1").inner_text()

def test_click_a_token_to_follow_it(page):
    route(page, "The patient was given 5 mg")
    n_layers = int(re.search(r"through (\d+) layers", page.locator("#status").inner_text()).group(1))
    page.locator("#top1 .token").nth(2).click()
    text_has(page, "#path-status", "Token 2")
    wait_points(page, "#token-path"); wait_points(page, "#token-neurons")
    assert plot_rows(page, "#token-path") == n_layers          # one row per layer
    assert "Strongest neurons" in page.locator("#path-status").inner_text()
    assert plot_rows(page, "#token-neurons") > 0
    page.screenshot(path=str(ROOT / "assets" / "screenshot-follow.png"), full_page=False)
    page.get_by_role("tab", name="Neurons").click()            # the Neurons tab got the clicked token: no position to type
    assert page.locator("#n-prompt textarea").input_value() == "The patient was given 5 mg"
    page.get_by_role("tab", name="Routing").click()

def test_analyses_on_chosen_texts(page):
    page.get_by_role("tab", name="Analyses").click()
    page.locator("#an-text textarea").fill("my own words about cats and dogs")
    page.locator("#analyse-btn").click()
    text_has(page, "#an-status", "Analysed", timeout=180_000)
    for name in ("load", "domain", "vocab", "coact"): wait_points(page, f"#an-{name}")
    assert "your text" in page.locator("#an-status").inner_text()
    assert page.locator("#an-load-note").inner_text().startswith("Busiest")
    assert page.locator("#an-domain-note").inner_text().startswith("Strongest")
    assert "random-init" in page.locator("#an-domain-note").inner_text()
    assert plot_rows(page, "#an-domain") == 7                 # six corpus domains and your text
    page.screenshot(path=str(ROOT / "assets" / "screenshot-analyses.png"), full_page=False)

def test_geometry(page):
    page.get_by_role("tab", name="Geometry").click()
    page.locator("#geometry-btn").click()
    text_has(page, "#g-status", "router rows lie nearest")
    wait_points(page, "#geometry")
    assert n_points(page, "#geometry") > 0

def train_short(page):
    "Train a 4-step adapter in the Train tab and score it; back to Compare."
    page.get_by_role("tab", name="Train").click()
    set_number(page, "#steps", 4)
    page.locator("#train-btn").click()
    try:
        page.wait_for_function("() => /step 4\\/4.*(done|stopped)/.test(document.querySelector('#train-status').innerText)", timeout=240_000)
    except Exception:
        page.locator("#stop-btn").click(); raise          # never leave a long run holding the server's training slot
    page.locator("#score-btn").click()                     # the run ends with a number
    text_has(page, "#score-status", "Held-out exact match", timeout=180_000)
    assert re.search(r"base \d+%, with the adapter \d+%", page.locator("#score-status").inner_text())
    page.get_by_role("tab", name="Compare").click()

def session_log(app_url, n=12) -> str:
    "The last `n` session lines of the app server's log (opened, closed, freed): why a visitor's run could be gone."
    log = ARTIFACTS / f"app-{app_url.rsplit(':', 1)[-1]}.log"
    return "\n".join([l for l in log.read_text().splitlines() if " session " in l][-n:]) if log.exists() else "(no app log)"

def test_compare_base_and_adapted(page, app_url):
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-btn").click()
    page.wait_for_function("() => { const e = document.querySelector('#c-status'); return e && e.innerText.length > 0; }", timeout=60_000)
    if "no adapter" in page.locator("#c-status").inner_text(): train_short(page)   # this visitor has none yet: train a short run
    # a click that lands while the tab is still rendering can be lost (the status keeps its old text): click again
    retrained = False
    for attempt in range(5):
        if attempt or "no adapter" in page.locator("#c-status").inner_text(): page.locator("#compare-btn").click()
        try: text_has(page, "#c-status", "Routing moved most", timeout=60_000); break
        except Exception:
            page.get_by_role("tab", name="Train").click()
            trained = page.locator("#train-status").inner_text()
            page.get_by_role("tab", name="Compare").click()
            if attempt == 4: raise AssertionError(f"compare status after 5 tries: {page.locator('#c-status').inner_text()!r}; "
                                                  f"train status: {trained!r}; the server's session log:\n{session_log(app_url)}")
            # still no adapter after a second click: the run is gone (the Train tab's text is the page's, it cannot tell)
            if "no adapter" in page.locator("#c-status").inner_text() and attempt >= 1 and not retrained:
                print(f"the page's run is gone (train status {trained!r}): its session was replaced; training again\n{session_log(app_url)}")
                train_short(page); retrained = True   # once: a second loss fails the test
    wait_points(page, "#divergence", timeout=120_000); wait_points(page, "#c-norms", timeout=120_000)
    assert "MoE output's norm" in page.locator("#c-status").inner_text()
    assert n_points(page, "#divergence") > 0
    page.screenshot(path=str(ROOT / "assets" / "screenshot-compare.png"), full_page=False)
