"""The app's Compose tab in a real headless Chromium: compose the shipped bank, the learned module router, the visitor's own adapter
next to the bank's, Compare against a shipped adapter and a composition, bad input."""
import os
import pytest
from conftest import ROOT
from test_app_browser import app_page, plot_rows, wait_plot

OPERATOR = ROOT / "assets" / "adapters" / "perft-r" / "operator"   # a shipped adapter's files, uploaded as the visitor's own
SINGLES = ["perft-r/operator", "perft-r/code_kind", "perft-r/fact_kind", "perft-r/clause_kind"]
LORA_SINGLES = [s.replace("perft-r/", "lora-qv/") for s in SINGLES]
OTHER_BASE = bool(os.environ.get("PERFT_VIZ_TEST_MODEL"))   # another base: the bank's own check explains why there is no tab


@pytest.fixture(scope="module")
def page(app_url):
    with app_page(app_url, height=1600) as pg:
        pg.get_by_role("tab", name="Compose").click()
        yield pg


def text_has(page, sel, text, timeout=120_000):
    page.wait_for_function(f"() => (document.querySelector('{sel}') || {{innerText: ''}}).innerText.includes({text!r})", timeout=timeout)


def wait_status(page, text, timeout=120_000): text_has(page, "#compose-status", text, timeout)


def choose(page, sel, option):
    "Pick `option` in the Gradio dropdown `sel`."
    page.locator(f"{sel} input").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_function(f"() => document.querySelector('{sel} input').value === {option!r}")


def tick(page, sel, labels):
    "Check exactly the boxes `labels` of the checkbox group `sel`."
    for box in page.locator(f"{sel} label").all():
        want = box.inner_text().strip() in labels
        if box.locator("input").is_checked() != want: box.locator("input").click()


def compose(page, strategy, expect, timeout=120_000):
    choose(page, "#c-strategy", strategy)
    page.locator("#compose-btn").click()
    wait_status(page, expect, timeout)


def test_compose_shows_weights_contributions_and_answers(page):
    if OTHER_BASE: assert "does not fit this model" in page.content(); return
    page.locator("#compose-btn").click()
    wait_status(page, "module(s)")
    wait_plot(page, "#c-weights")
    assert plot_rows(page, "#c-weights") == 4                 # the four single-task modules, one row each
    text = page.locator("#c-answers").inner_text()          # base, four single adapters, the composition
    assert all(n in text for n in ("base model", "perft-r/operator", "perft-r/clause_kind", "composed (routed: oracle"))
    assert plot_rows(page, "#c-matrix") > 10                  # the committed interference matrix
    page.screenshot(path=str(ROOT / "assets" / "screenshot-compose.png"), full_page=False)


def test_compose_with_no_adapter_says_so(page):
    if OTHER_BASE: return                                     # no Compose view on another base (see above)
    tick(page, "#c-adapters", [])
    page.locator("#compose-btn").click()
    wait_status(page, "Cannot do that")
    assert "No adapters selected" in page.locator("#compose-status").inner_text() and "Traceback" not in page.content()


def test_lora_adapters_compose(page):
    "The bank's LoRA q,v adapters compose among themselves: the answers table shows the base, each adapter, the composition and the oracle's pick."
    if OTHER_BASE: return
    tick(page, "#c-adapters", LORA_SINGLES)
    compose(page, "routed: oracle (task id)", "4 LoRA adapter(s), routed: oracle")
    text_has(page, "#c-answers", "-> lora-qv/operator")
    text = page.locator("#c-answers").inner_text()
    assert all(n in text for n in ("base model", *LORA_SINGLES, "composed (routed: oracle (task id)) -> lora-qv/operator")), text
    assert "PERFT modules only" in page.locator("#compose-status").inner_text()   # why there are no per-token module figures
    compose(page, "merge: TIES", "4 LoRA adapter(s), merge: TIES")
    text_has(page, "#c-answers", "composed (merge: TIES)")
    tick(page, "#c-adapters", ["perft-r/operator", "lora-qv/operator"])
    compose(page, "parallel", "Cannot do that")
    assert "mix PERFT and LoRA" in page.locator("#compose-status").inner_text() and "Traceback" not in page.content()


def test_learned_module_router(page):
    "The learned router is fitted for the selection (the page says so meanwhile), then composes like the others."
    if OTHER_BASE: return
    tick(page, "#c-adapters", SINGLES)
    choose(page, "#c-strategy", "routed: learned module router")
    page.locator("#compose-btn").click()
    wait_status(page, "Fitting the learned module router over 4 modules", 30_000)
    wait_status(page, "module(s), routed: learned module router", 300_000)
    wait_plot(page, "#c-weights")
    assert plot_rows(page, "#c-weights") == 4
    weights = page.evaluate("() => document.querySelector('#c-weights .js-plotly-plot').data[0].z.flat()")
    assert all(0 <= w <= 1 for w in weights) and max(weights) < 1    # soft weights over the modules, not a one-hot router


def test_own_adapter_composes_with_the_bank(page):
    "A visitor uploads an adapter: it joins their Compose list and composes with the shipped ones; where a strategy cannot take it, the tab says why."
    if OTHER_BASE: return
    page.get_by_role("tab", name="Adapter").click()
    page.locator("#upload-files input[type=file]").set_input_files([str(OPERATOR / "adapter_model.safetensors"), str(OPERATOR / "adapter_config.json")])
    text_has(page, "#upload-files", "adapter_config", 60_000)
    page.locator("#upload-btn").click()
    text_has(page, "#upload-status", "Now serving PERFT-R", 60_000)
    page.get_by_role("tab", name="Compose").click()            # opening the tab lists the visitor's adapter
    text_has(page, "#c-own", "Your adapter", 30_000)
    mine = "your adapter: PERFT-R Top2/4 (uploaded)"
    tick(page, "#c-adapters", [*SINGLES, mine])
    compose(page, "parallel", "module(s), parallel")
    assert "Your adapter (session" in page.locator("#compose-status").inner_text()
    wait_plot(page, "#c-weights")
    assert plot_rows(page, "#c-weights") == 5                 # the four shipped modules and the visitor's
    assert mine in page.locator("#c-answers").inner_text()
    compose(page, "routed: oracle (task id)", "Cannot do that")   # an upload has no task id: the reason, not a crash
    assert "no single task id" in page.locator("#compose-status").inner_text() and "Traceback" not in page.content()
    compose(page, "merge: TIES", "1 module(s), merge: TIES")  # same kind and shape: the visitor's adapter merges with the bank's
    assert plot_rows(page, "#c-weights") == 1


def test_compare_against_shipped_adapter_and_composition(page):
    if OTHER_BASE: return
    page.get_by_role("tab", name="Compare").click()
    assert not page.locator("#cmp-adapters").is_visible()       # only the chosen source's controls show
    page.get_by_label("a shipped adapter").check()
    page.locator("#cmp-shipped").wait_for(state="visible")
    page.locator("#compare-btn").click()
    text_has(page, "#c-status", "Base vs perft-r/operator. Routing moved most")
    for sel in ("#divergence", "#c-norms"):
        page.wait_for_function(f"() => {{ const d = document.querySelector('{sel} .js-plotly-plot'); return d && d.data && d.data[0].y.length > 0; }}")
    assert page.evaluate("() => document.querySelector('#c-norms .js-plotly-plot').layout.yaxis.type") == "log"
    page.get_by_label("a composition").check()
    page.locator("#cmp-adapters").wait_for(state="visible")    # the composition's controls show once it is the source
    assert not page.locator("#cmp-shipped").is_visible()
    tick(page, "#cmp-adapters", ["perft-r/operator", "perft-r/code_kind", "your adapter"])
    choose(page, "#cmp-strategy", "hybrid")
    page.locator("#compare-btn").click()
    text_has(page, "#c-status", "Base vs hybrid of perft-r/operator, perft-r/code_kind, your adapter")
    traces = page.evaluate("() => document.querySelector('#c-norms .js-plotly-plot').data.map(t => t.name)")
    assert traces[:3] == ["perft-r/operator", "perft-r/code_kind", "your adapter: PERFT-R Top2/4 (uploaded)"] and "MoE output" in traces
