"""The app as a class would use it: many clients at once while a training run goes on, each visitor's own session, every limit."""
import json, subprocess, sys, threading, time
import httpx, pytest, torch
from gradio_client import Client, handle_file
from conftest import ROOT, ARTIFACTS, PROCESS_ENV, start_app, n_routed
from perft_viz.app_session import text_tag, save_adapter

LIMITS = ["--max-prompt-chars", "300", "--max-prompt-tokens", "40", "--max-answer-chars", "50", "--max-upload-mb", "1",
          "--max-rank", "16", "--max-experts", "8", "--max-top-k", "4", "--max-steps", "100000", "--train-slots", "1",
          "--model-concurrency", "4"]   # reads of the served model really run at once (capture is re-entrant)
SAME_COUNT = ["abcdefgh", "hgfedcba", "aaaabbbb", "12+7=19."]      # equal token counts (the toy tokenizer: one per character)
OTHER = ["abc", "hello world", "reverse abc -> cba", "xy"]
PROMPTS = SAME_COUNT + OTHER
TASK, INPUTS = "parity", ["1", "12", "123", "1234"]


@pytest.fixture(scope="module")
def shared_url(tiny_model):
    ARTIFACTS.mkdir(exist_ok=True)
    proc, url = start_app("--model", str(tiny_model), *LIMITS)
    yield url
    proc.terminate()
    try: proc.wait(10)
    except subprocess.TimeoutExpired: proc.kill()


def client(url): return Client(url, verbose=False, download_files=False)
def z(plot): return json.loads(plot["plot"])["data"][0]["z"]
def close(a, b): return torch.allclose(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), atol=1e-5)
def tag(c): return text_tag(c.session_hash)


def wait_status(c, text, timeout=120):
    "Poll the session's run until its status contains `text`."
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = c.predict(api_name="/train_status")[3]
        if text in status: return status
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} in {status!r}")


def call(c, kind, i):
    "One call of `kind` with the i-th input; returns (args, result)."
    p, layer = PROMPTS[i % len(PROMPTS)], i % 2
    if kind == "route": return p, c.predict(p, layer, api_name="/route")
    if kind == "neurons": return p, c.predict(p, layer, 1, api_name="/neurons")
    if kind == "adapter": return p, c.predict(p, layer, api_name="/adapter_routing")
    return INPUTS[i % len(INPUTS)], c.predict(TASK, INPUTS[i % len(INPUTS)], api_name="/answer")


def test_concurrent_clients_during_training(shared_url, tmp_path):
    trainer = client(shared_url)
    trainer.predict("R", 4, 2, 2, 3, 1e-2, [TASK], api_name="/train")
    wait_status(trainer, "step 3/3")
    # the trainer's adapter files, fetched as a browser would
    dl, _ = trainer.predict(api_name="/download_adapter")
    paths = []
    for f in dl:
        paths.append(tmp_path / f["orig_name"] if f.get("orig_name") else tmp_path / f["path"].rsplit("/", 1)[-1])
        paths[-1].write_bytes(httpx.get(f["url"]).content)
    clients = [trainer] + [client(shared_url) for _ in range(15)]   # the trainer reads too
    for c in clients[1:8]:                                       # half the visitors bring the trainer's adapter
        assert c.predict([handle_file(str(p)) for p in paths], api_name="/upload_adapter").startswith("Now serving PERFT-R Top2/4 (uploaded)")
    # what each call must return, computed one at a time before the crowd arrives
    ref = {("route", p, l): trainer.predict(p, l, api_name="/route") for p in PROMPTS for l in (0, 1)}
    ref |= {("neurons", p, l): trainer.predict(p, l, 1, api_name="/neurons") for p in PROMPTS for l in (0, 1)}
    ref |= {("adapter", p, l): trainer.predict(p, l, api_name="/adapter_routing") for p in PROMPTS for l in (0, 1)}
    ref |= {("answer", x): trainer.predict(TASK, x, api_name="/answer") for x in INPUTS}
    # a long run trains while the crowd reads; the trainer keeps its finished adapter meanwhile
    assert trainer.predict("R", 4, 2, 2, 100000, 1e-3, [TASK], api_name="/train")[1].startswith("Training PERFT-R")
    errors, wrong = [], []
    def visitor(k, c):
        kinds = ["route", "neurons", "adapter", "answer"]
        has_adapter = k < 8                                      # clients[0] is the trainer itself
        for j in range(20):
            kind, i = kinds[(j + k) % 4], j + k
            try: arg, r = call(c, kind, i)
            except Exception as e: errors.append(f"{kind}: {type(e).__name__}: {e}"); continue
            status = r[-1]
            if "Something went wrong" in status: errors.append(status); continue
            layer = i % 2
            if kind == "route":
                want = ref[("route", arg, layer)]
                ok = (status == want[3] and f"(prompt {text_tag(arg)})" in status and close(z(r[0]), z(want[0]))
                      and r[1] == want[1] and "".join(h["token"] for h in r[1]) == arg and n_routed(status) == len(arg))
            elif kind == "neurons":
                want = ref[("neurons", arg, layer)]
                ok = status == want[1] and f"of prompt {text_tag(arg)}" in status and close(z(r[0]), z(want[0]))
            elif kind == "adapter":
                want = ref[("adapter", arg, layer)]
                if not has_adapter: ok = "No adapter has been trained yet" in status and r[0] is None
                else:
                    label = "PERFT-R Top2/4" if k == 0 else "PERFT-R Top2/4 (uploaded)"
                    ok = (status.startswith(f"{label} of session {tag(c)}: routed {len(arg)} tokens (prompt {text_tag(arg)})")
                          and close(z(r[0]), z(want[0])))
            else:
                want = ref[("answer", arg)]
                ok = ("No adapter" in status and r[0] is None) if not has_adapter else \
                     (r[:2] == want[:2] and status.endswith(f"of session {tag(c)} on {TASK}: {arg!r}."))
            if not ok: wrong.append((k, kind, arg, status))
        # the session's export is what this session showed last
        route_status = c.predict(PROMPTS[k % len(PROMPTS)], 0, api_name="/route")[3]
        js = [f for f in c.predict(api_name="/export_routing")[0] if f["url"].endswith(".json")][0]
        if json.loads(httpx.get(js["url"]).content)["status"] != route_status: wrong.append((k, "export", route_status))
    t0 = time.time()
    threads = [threading.Thread(target=visitor, args=(k, c)) for k, c in enumerate(clients)]
    for t in threads: t.start()
    # meanwhile a second visitor asks to train: they wait in line, and their Stop does not touch the first run
    other = client(shared_url)
    other.predict("S", None, None, 2, 5, 1e-2, [TASK], api_name="/train")
    assert "number 1 in line" in wait_status(other, "Waiting for a training slot", 30)
    other.predict(api_name="/stop")
    wait_status(other, "Left the line")
    for t in threads: t.join(600)
    crowd_s = time.time() - t0
    assert not errors, errors[:5]
    assert not wrong, wrong[:5]
    status = trainer.predict(api_name="/train_status")[3]
    assert "/100000" in status and "done" not in status and "stopped" not in status, status   # still training through it all
    trainer.predict(api_name="/stop")
    wait_status(trainer, "stopped (stop requested)")
    print(f"16 clients x 20 calls during training: {crowd_s:.1f} s")


@pytest.mark.parametrize("args,message", [
    (("S", None, None, 100000, 5, 1e-2), "rank=100000 is outside the limit 1..16"),
    (("R", 500, 2, 4, 5, 1e-2), "PEFT experts=500 is outside the limit 1..8"),
    (("R", 8, 6, 4, 5, 1e-2), "top-k=6 is outside the limit 1..4"),
    (("R", 2, 3, 4, 5, 1e-2), "top-k=3 is outside the limit 1..2"),
    (("S", None, None, 4, 200000, 1e-2), "steps=200000 is outside the limit 1..100000"),
    (("S", None, None, 4, 5, -1), "learning rate=-1 is outside the limit 1e-05..0.1"),
    (("S", None, None, 4, 5, 1e9), "learning rate=1e+09 is outside the limit 1e-05..0.1"),
])
def test_training_limits(shared_url, args, message):
    timer, status = client(shared_url).predict(*args, [TASK], api_name="/train")
    assert message in status, status


def test_prompt_and_answer_limits(shared_url):
    c = client(shared_url)
    *_, status = c.predict("ab" * 5_000, 0, api_name="/route")   # cut at 300 characters before tokenizing, then at 40 tokens
    assert "10,000 characters; only the first 300 are used" in status and "only the first 40" in status
    assert n_routed(status) == 40
    *_, status = c.predict("ab" * 30, 0, api_name="/route")      # 60 characters, 60 tokens: only the token limit
    assert "characters" not in status and "has 60 tokens; only the first 40" in status
    *_, status = c.predict(TASK, "1" * 51, api_name="/answer")
    assert "The input has 51 characters, over the limit of 50" in status


def test_upload_limits(shared_url, tmp_path, tiny_model):
    from transformers import OlmoeConfig, OlmoeForCausalLM
    from perft_viz.adapters import adapter_config, wrap_model
    c = client(shared_url)
    # an adapter for a base of another width: refused by its shapes, before anything is loaded
    cfg = OlmoeConfig.from_pretrained(tiny_model)
    cfg.hidden_size *= 2
    files = save_adapter(wrap_model(OlmoeForCausalLM(cfg), adapter_config("S", rank=2)), tmp_path)
    status = c.predict([handle_file(str(files[1]))], api_name="/upload_adapter")
    assert "wrong shape for this model" in status and "the served base needs" in status, status
    assert "No adapter has been trained yet" in c.predict("abc", 0, api_name="/adapter_routing")[-1]
    # only .safetensors / .json pass Gradio's upload check; a file over the size limit is refused by the upload route
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(Exception, match="Invalid file type"):
        c.predict([handle_file(str(tmp_path / "x.txt"))], api_name="/upload_adapter")
    big = tmp_path / "big.safetensors"; big.write_bytes(b"\0" * (2 * 2**20))
    r = httpx.post(f"{shared_url}/gradio_api/upload", files={"files": open(big, "rb")})
    assert r.status_code == 413, r.status_code
    # a .safetensors that is not one: a message, not an error
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    assert "not a readable safetensors adapter" in c.predict([handle_file(str(tmp_path / "bad.safetensors"))], api_name="/upload_adapter")


def test_errors_do_not_reach_the_page_and_cli_serves(shared_url, capsys):
    c = client(shared_url)
    status = c.predict("abc", 0, 99, api_name="/neurons")[-1]
    assert "Cannot do that" in status and "Traceback" not in status and "/" not in status.split("Cannot do that")[1][:80]
    from perft_viz.cli import main      # `perft-viz app` takes app.py's options (the server above runs app.py)
    with pytest.raises(SystemExit): main(["app", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("usage: perft-viz app") and "--train-slots" in out and "--max-upload-mb" in out
