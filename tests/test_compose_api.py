"""The Compose and Compare views through Gradio's API: a visitor's own adapter is theirs alone."""
import json, os, time
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from conftest import ROOT
from perft_viz.app_session import text_tag

OPERATOR = ROOT / "assets" / "adapters" / "perft-r" / "operator"
FILES = [OPERATOR / "adapter_model.safetensors", OPERATOR / "adapter_config.json"]
INPUT = ("operator", "12 + 7 = 19", 0)   # task, input, layer


def client(url): return Client(url, verbose=False, download_files=False)
def rows(df): return df["data"] if isinstance(df, dict) else df


def test_own_adapter_is_per_session(app_url):
    if os.environ.get("PERFT_VIZ_TEST_MODEL"): return       # another base: no Compose view (the bank does not fit it)
    alice, bob = client(app_url), client(app_url)
    assert alice.predict([handle_file(str(p)) for p in FILES], api_name="/upload_adapter").startswith("Now serving PERFT-R Top2/4 (uploaded)")
    a_tag = text_tag(alice.session_hash)
    assert a_tag in alice.predict([], api_name="/compose_adapters")[1]
    assert "no adapter of your own" in bob.predict([], api_name="/compose_adapters")[1]
    w, c, answers, status = alice.predict(["yours", "perft-r/code_kind"], "parallel", *INPUT, api_name="/compose")
    assert f"Your adapter (session {a_tag})" in status and w is not None, status
    assert [r[0] for r in rows(answers)] == ["base model", "your adapter: PERFT-R Top2/4 (uploaded)", "perft-r/code_kind", "composed (parallel)"]
    # bob has no adapter: 'yours' names nothing of his, and alice's private bank names are refused
    w, c, answers, status = bob.predict(["yours", "perft-r/code_kind"], "parallel", *INPUT, api_name="/compose")
    assert "no adapter of your own" in status and w is None
    for v in range(1, 6):
        try: assert "has no adapter named" in bob.predict([f"own-{a_tag}/v{v}"], "parallel", *INPUT, api_name="/compose")[-1]
        except AppError as e: assert "not in the list of choices" in str(e)   # Gradio refuses it before the view does
    # Compare takes the same composition, each visitor's own
    *_, note = alice.predict("12 + 7 = 19", 1, "a composition", None, ["perft-r/operator", "yours"], "serial", "operator", api_name="/compare")
    assert note.startswith("Base vs serial of perft-r/operator, your adapter: PERFT-R Top2/4 (uploaded). Routing moved most"), note
    *_, note = bob.predict("12 + 7 = 19", 1, "a composition", None, ["perft-r/operator", "yours"], "serial", "operator", api_name="/compare")
    assert "no adapter of your own" in note
    # a strategy that cannot take an upload says why, and the server keeps serving
    assert "no single task id" in alice.predict(["yours", "perft-r/code_kind"], "routed: oracle (task id)", *INPUT, api_name="/compose")[-1]
    assert "tasks are unknown" in alice.predict(["yours", "perft-r/code_kind"], "routed: k-means", *INPUT, api_name="/compose")[-1]
    assert "module(s), merge: task arithmetic" in alice.predict(["yours", "perft-r/code_kind"], "merge: task arithmetic", *INPUT, api_name="/compose")[-1]


def wait_trained(c, timeout=240):
    "Poll the session's 2-step run until it is done."
    deadline, status = time.time() + timeout, ""
    while time.time() < deadline and not ("step 2/2" in status and "done" in status):
        status = c.predict(api_name="/train_status")[3]; time.sleep(0.5)
    assert "done" in status, status


def test_trained_adapter_joins_compose(app_url):
    "An adapter trained in the session (on one task) is listed with its task and takes the oracle router's place for that task."
    if os.environ.get("PERFT_VIZ_TEST_MODEL"): return
    c = client(app_url)
    assert c.predict("R", 4, 2, 4, 2, 1e-2, ["operator"], api_name="/train")[1].startswith("Training PERFT-R")
    wait_trained(c)
    assert "trained on operator" in c.predict([], api_name="/compose_adapters")[1]
    w, _, answers, status = c.predict(["perft-r/code_kind", "yours"], "routed: oracle (task id)", *INPUT, api_name="/compose")
    assert "2 module(s), routed: oracle" in status, status
    z = json.loads(w["plot"])["data"][0]["z"]                    # modules x tokens
    assert all(v == 0 for v in z[0]) and all(v == 1 for v in z[1])   # every token of the operator task goes to the visitor's module
    assert rows(answers)[2][0] == "your adapter: PERFT-R Top2/4"


LORA = ["lora-qv/operator", "lora-qv/code_kind"]


def test_lora_adapters_compose(app_url):
    "The bank's LoRA q,v adapters compose among themselves (the oracle, a TIES merge); mixed with PERFT ones, or by a PERFT-only strategy, the reason comes back."
    if os.environ.get("PERFT_VIZ_TEST_MODEL"): return
    c = client(app_url)
    w, contrib, answers, status = c.predict(LORA, "routed: oracle (task id)", *INPUT, api_name="/compose")
    assert "oracle sent this operator example to lora-qv/operator" in status and "LoRA acts inside attention" in status, status
    assert w is None and contrib is None                       # no per-token module capture for LoRA
    r = rows(answers)
    assert [x[0] for x in r] == ["base model", *LORA, "composed (routed: oracle (task id)) -> lora-qv/operator"]
    assert r[-1][1] == r[1][1]                                 # routed to one adapter: that adapter's answer
    w, _, answers, status = c.predict(LORA, "merge: TIES", *INPUT, api_name="/compose")
    assert status.startswith("2 LoRA adapter(s), merge: TIES."), status
    assert [x[0] for x in rows(answers)] == ["base model", *LORA, "composed (merge: TIES)"]
    assert all(isinstance(x[1], str) for x in rows(answers))
    status = c.predict(["perft-r/operator", "lora-qv/operator"], "parallel", *INPUT, api_name="/compose")[-1]
    assert "mix PERFT and LoRA" in status and "inside attention" in status, status
    assert "For LoRA adapters use one of" in c.predict(LORA, "serial", *INPUT, api_name="/compose")[-1]


def test_trained_lora_joins_the_bank_lora(app_url):
    "A LoRA q,v adapter trained in the session composes with the bank's LoRA q,v adapters (not with its PERFT ones)."
    if os.environ.get("PERFT_VIZ_TEST_MODEL"): return
    c = client(app_url)
    assert c.predict("lora-qv", 4, 2, 4, 2, 1e-2, ["operator"], api_name="/train")[1].startswith("Training LoRA")
    wait_trained(c)
    _, _, answers, status = c.predict(["lora-qv/code_kind", "yours"], "routed: oracle (task id)", *INPUT, api_name="/compose")
    assert "oracle sent this operator example to your adapter: LoRA" in status and "Your adapter (session" in status, status
    assert rows(answers)[2][0].startswith("your adapter: LoRA")
    assert "mix PERFT and LoRA" in c.predict(["perft-r/code_kind", "yours"], "parallel", *INPUT, api_name="/compose")[-1]
