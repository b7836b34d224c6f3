"""Process-level fixtures: a real app server on a free localhost port, a tiny saved checkpoint, shared helpers."""
import os, re, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
# child processes: unbuffered logs, one thread each (the machine has 2 cores)
PROCESS_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def n_routed(status:str) -> int:
    "The token count in an app status line ('Routed 9 tokens ...' or '...: routed 9 tokens.')."
    return int(re.search(r"[Rr]outed (\d+) tokens", status).group(1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(*extra, timeout=180):
    "Start `python app.py` on a free port; return (process, url) once it answers."
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(ARTIFACTS / f"app-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), *extra],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited with {proc.returncode}: {(ARTIFACTS / f'app-{port}.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2); return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill(); raise RuntimeError("app did not start in time")


@pytest.fixture(scope="session")
def app_url():
    ARTIFACTS.mkdir(exist_ok=True)
    extra = ["--model", os.environ["PERFT_VIZ_TEST_MODEL"]] if os.environ.get("PERFT_VIZ_TEST_MODEL") else []
    proc, url = start_app(*extra)
    yield url
    proc.terminate()
    try: proc.wait(10)
    except subprocess.TimeoutExpired: proc.kill()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    "A tiny random OLMoE with a toy tokenizer, saved like any checkpoint (stands in for TinyOLMoE)."
    from perft_viz.model import random_olmoe, toy_config, toy_tokenizer
    d = tmp_path_factory.mktemp("model")
    tok = toy_tokenizer()
    random_olmoe(toy_config(vocab_size=len(tok))).save_pretrained(d)
    tok.save_pretrained(d)
    return d
