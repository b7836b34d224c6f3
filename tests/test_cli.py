"""`perft-viz train` / `eval` as real processes: results files, resume after a kill, and bad input."""
import json, signal, subprocess, sys, time
from pathlib import Path
from conftest import ROOT, PROCESS_ENV as ENV

BIN = Path(sys.executable).parent
CLI = [str(BIN / "perft-viz")] if (BIN / "perft-viz").exists() else [sys.executable, "-m", "perft_viz.cli"]


def run(*args, timeout=300, check=True):
    p = subprocess.run([*CLI, *map(str, args)], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"perft-viz {' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return p


def in_process(*args) -> int:
    "`perft-viz ARGS` in this process (one interpreter start less); returns the exit code."
    from perft_viz.cli import main
    return main([*map(str, args)])


def common(model):
    return ["--model", model, "--task", "parity,larger", "--template", "short", "--threads", "1"]


def perft_r(model, out, *extra):
    return ["train", *common(model), "--variant", "R", "--experts", "4", "--top-k", "2", "--rank", "4", "--n-per-task", "32",
            "--batch-size", "4", "--lr", "1e-3", "--output-dir", out, "--no-progress", *extra]


def step_losses(path):
    "step -> loss from metrics.jsonl (a resumed run appends; the last value of a step wins)."
    out = {}
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        if "ce" in r: out[r["step"]] = r["loss"]
    return out


def test_train_then_eval_writes_results(tiny_model, tmp_path):
    run(*perft_r(tiny_model, tmp_path / "r", "--max-steps", "4"))
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["label"] == "PERFT-R Top2/4" and info["steps"] == 4 and info["trainable"] > info["activated"] > 0
    assert (tmp_path / "r" / "adapter" / "adapter_config.json").exists()
    recs = [json.loads(l) for l in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4]
    assert {"loss", "ce", "base_lb", "peft_lb", "base_load", "peft_load", "tokens_per_s"} <= set(recs[-1])
    # a LoRA baseline through the same entry point, in this process (one interpreter start less)
    assert in_process("train", *common(tiny_model), "--variant", "lora-qv", "--rank", "4", "--n-per-task", "32",
                      "--batch-size", "4", "--max-steps", "2", "--output-dir", tmp_path / "qv", "--no-progress") == 0

    p = run("eval", *common(tiny_model), "--adapter", tmp_path / "r" / "adapter", tmp_path / "qv" / "adapter",
            "--n-per-task", "5", "--out", tmp_path / "res")
    res = json.loads((tmp_path / "res" / "results.json").read_text())
    assert [r["name"] for r in res["rows"]] == ["base", "r", "qv"]      # unique run names ...
    rows = {r["label"]: r for r in res["rows"]}                          # ... and the adapter kind
    assert list(rows) == ["base", "PERFT-R Top2/4", "LoRA q,v"]
    for r in rows.values():
        assert set(r["accuracy"]) == {"larger", "parity", "mean"} and r["n"] == {"larger": 5, "parity": 5}
        assert all(0 <= v <= 1 for v in r["accuracy"].values()) and r["eval_wall_s"] >= 0
    assert rows["base"]["trainable"] == 0 and rows["LoRA q,v"]["trainable"] == rows["LoRA q,v"]["activated"] > 0
    assert rows["PERFT-R Top2/4"]["train_wall_s"] == info["train_wall_s"]
    md = (tmp_path / "res" / "results.md").read_text()
    assert md.startswith("| run | adapter | larger | parity | mean | trainable | activated |") and "| qv | LoRA q,v |" in md
    assert "PERFT-R Top2/4" in p.stdout


def test_resume_after_kill_continues_the_same_losses(tiny_model, tmp_path):
    args = ["--max-steps", "60", "--save-steps", "5"]
    assert in_process(*perft_r(tiny_model, tmp_path / "full", *args)) == 0     # the uninterrupted run
    full = step_losses(tmp_path / "full" / "metrics.jsonl")
    assert sorted(full) == list(range(1, 61))

    out = tmp_path / "killed"
    proc = subprocess.Popen([*CLI, *map(str, perft_r(tiny_model, out, *args))], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (out / "checkpoint-5").exists():
        assert proc.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL); proc.wait()
    killed_at = max(step_losses(out / "metrics.jsonl"))
    assert killed_at < 60, "the kill came too late to test anything"
    for ck in out.glob("checkpoint-*"):   # whatever was published is complete
        assert (ck / "trainer_state.json").exists() and (ck / "adapter_model.safetensors").exists() and (ck / "rng_state.pth").exists()

    resumed_from = max(int(c.name.split("-")[1]) for c in out.glob("checkpoint-*"))
    assert in_process(*perft_r(tiny_model, out, *args, "--resume")) == 0
    after = step_losses(out / "metrics.jsonl")
    assert sorted(after) == list(range(1, 61))
    steps = [json.loads(l)["step"] for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 61)), steps       # each step once: the killed run's steps past the checkpoint are not repeated
    for s in range(resumed_from + 1, 61):
        assert abs(after[s] - full[s]) <= 1e-6, (s, after[s], full[s])


def test_bad_input_names_the_file_line_field_or_setting(tiny_model, tmp_path):
    import contextlib, io

    def err(*argv):
        buf = io.StringIO()
        with contextlib.redirect_stderr(buf):
            code = in_process(*argv)
        assert code == 2, buf.getvalue()
        return buf.getvalue()

    base = ["train", "--model", tiny_model, "--template", "short", "--threads", "1", "--output-dir", tmp_path / "o", "--no-progress"]
    recs = [dict(instruction="Is it true?", input="", output="the correct answer is true", answer="true"),
            dict(instruction="What is 2 + 2?", input="", answer="4")]
    (tmp_path / "missing.json").write_text(json.dumps(recs, indent=2))
    assert "missing.json line 8: field 'output' is missing" in err(*base, "--task", tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "a", "output": "b"\n]')
    assert "broken.json line 4, column" in err(*base, "--task", tmp_path / "broken.json")
    (tmp_path / "obj.json").write_text('{"instruction": "a", "output": "b"}')
    assert "is not a JSON array" in err(*base, "--task", tmp_path / "obj.json")
    (tmp_path / "empty.json").write_text("[]")
    assert "holds no records" in err(*base, "--task", tmp_path / "empty.json")
    (tmp_path / "bad.jsonl").write_text('{"instruction": "a", "output": "b"}\n{"instruction": 3, "output": "b"}\n')
    assert "bad.jsonl line 2: field 'instruction' is a int" in err(*base, "--task", tmp_path / "bad.jsonl")
    assert "'parity2' does not exist" in err(*base, "--task", "parity2")
    assert "--batch-size=0 is invalid" in err(*base, "--task", "parity", "--batch-size", "0")
    msg = err(*base, "--task", "parity", "--n-per-task", "8", "--batch-size", "8", "--memory-limit-gb", "0.00001")
    assert "Lower --batch-size" in msg and "--max-length" in msg
    assert "holds no adapter_config.json" in err("eval", "--model", tiny_model, "--adapter", tmp_path)
    assert "No such file or directory" in err("eval", "--model", tmp_path / "nowhere")
    # mistyped relative paths fail at once with "No such file or directory", never tried as hub ids
    import os
    cwd = os.getcwd(); os.chdir(tmp_path)
    try:
        (tmp_path / "ckpt").mkdir(); (tmp_path / "data").mkdir()
        t0 = time.time()
        assert "No such file or directory: 'ckpt/missing'" in err("eval", "--model", "ckpt/missing")
        assert "No such file or directory: 'data/x.json'" in err(*base, "--task", "data/x.json")
        assert time.time() - t0 < 10
    finally: os.chdir(cwd)
    # a checkpoint saved without its tokenizer is refused at load, saying what to do
    from perft_viz.model import random_olmoe, toy_config
    random_olmoe(toy_config()).save_pretrained(tmp_path / "no_tok")
    assert "tokenizer.save_pretrained(dir)" in err(*base, "--model", tmp_path / "no_tok", "--task", "parity")

    # a finished run is never trained over: refused, and its checkpoint is intact
    assert in_process(*perft_r(tiny_model, tmp_path / "done", "--max-steps", "2")) == 0
    assert "already holds checkpoint-2" in err(*perft_r(tiny_model, tmp_path / "done", "--max-steps", "2"))
    assert (tmp_path / "done" / "checkpoint-2" / "adapter_model.safetensors").exists()


def test_every_advertised_quantization_loads():
    "train, eval and app offer the formats of one home (core.QUANT_FORMATS, int4 included), and each one quantizes TinyOLMoE."
    import argparse
    import torch
    from perft_viz.core import QUANT_FORMATS
    from perft_viz.cli import _eval_parser, _train_parser
    from perft_viz.app import app_parser
    from perft_viz.model import load_model
    from perft_viz.quant import QUANT_TYPES, quantization_of
    sub = argparse.ArgumentParser().add_subparsers()
    _train_parser(sub); _eval_parser(sub)
    offered = [a.choices for p in (sub.choices["train"], sub.choices["eval"], app_parser())
               for a in p._actions if "--quantization" in a.option_strings]
    assert len(offered) == 3 and all(tuple(c) == QUANT_FORMATS == QUANT_TYPES for c in offered), offered
    assert "int4" in QUANT_FORMATS
    ids = torch.arange(3, 19)[None]
    for q in QUANT_FORMATS:
        model = load_model(None, q).model
        assert quantization_of(model) == q
        with torch.no_grad(): logits = model(ids).logits
        assert logits.shape[-1] == model.config.vocab_size and torch.isfinite(logits).all(), q
