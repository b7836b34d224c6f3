"""Two processes on one CPU machine: `torchrun --nproc_per_node 2` runs `perft-viz train` under DDP on gloo."""
import json, os, signal, subprocess, sys
from pathlib import Path
import pytest
from conftest import ROOT, PROCESS_ENV


def test_torchrun_two_processes(tiny_model, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "perft_viz.cli", "train",
           "--model", str(tiny_model), "--task", "parity,larger", "--template", "short", "--threads", "1",
           "--variant", "R", "--experts", "4", "--top-k", "2", "--rank", "4", "--n-per-task", "16",
           "--max-steps", "3", "--batch-size", "4", "--output-dir", str(tmp_path / "out"), "--no-progress"]
    p = subprocess.Popen(cmd, cwd=ROOT, env=PROCESS_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try: log, _ = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.communicate()   # torchrun and both workers
        raise
    assert p.returncode == 0, log[-5000:]
    assert "rank 0/2: finished at step 3" in log and "rank 1/2: finished at step 3" in log, log[-3000:]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["processes"] == 2 and run["steps"] == 3
    # DDP: each optimizer step consumed 2 processes x 4 examples, so 32 examples are 4 steps an epoch
    recs = [json.loads(l) for l in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3] and abs(recs[0]["epoch"] - 0.25) < 1e-9
    assert (tmp_path / "out" / "checkpoint-3" / "adapter_model.safetensors").exists()
    assert not [q for q in (tmp_path / "out").iterdir() if q.name.startswith(".staging")]


def test_accelerate_launch_two_processes(tiny_model, tmp_path):
    "The README's `accelerate launch --multi_gpu --num_processes 2` form: two ranks on gloo on a CPU machine too."
    from conftest import free_port
    accelerate = Path(sys.executable).parent / "accelerate"
    cmd = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(free_port()), "-m", "perft_viz.cli", "train",
           "--model", str(tiny_model), "--task", "parity,larger", "--template", "short", "--threads", "1",
           "--variant", "R", "--experts", "4", "--top-k", "2", "--rank", "4", "--n-per-task", "16",
           "--max-steps", "2", "--batch-size", "4", "--val-size", "8", "--eval-steps", "1",   # validation under DDP too
           "--output-dir", str(tmp_path / "out"), "--no-progress"]
    p = subprocess.Popen(cmd, cwd=ROOT, env=PROCESS_ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try: log, _ = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); p.communicate()
        raise
    assert p.returncode == 0, log[-5000:]
    assert "rank 0/2: finished at step 2" in log and "rank 1/2: finished at step 2" in log, log[-3000:]
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["processes"] == 2 and run["effective_batch"] == 8
    evals = [json.loads(l) for l in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines() if "eval_loss" in l]
    assert [r["step"] for r in evals] == [1, 2]
    best = min(evals, key=lambda r: r["eval_loss"])
    assert run["best_checkpoint"] == str(tmp_path / "out" / f"checkpoint-{best['step']}") and abs(run["best_val_loss"] - best["eval_loss"]) < 1e-6
