"""Benchmark: forward latency of PERFT variants and peft LoRA baselines relative to the base model. Not a test.

Model: TinyOLMoE (assets/tiny-olmoe) if it exists, else a random OLMoE of a similar shape (4 layers, hidden 128,
16 experts top-2). Every model is a copy of the same base; all run in this process on the same batch, under
torch.no_grad, in eval mode, with a fixed number of threads. Rounds are interleaved (each round times every model
once, in a rotating order) so load changes on a shared machine hit all models alike; we report each model's median
wall time and, as a check on a busy machine, its median process CPU time (all threads).

Targets from the PERFT issue: PERFT-R Top2/8 r=8 <= 1.10x and PERFT-E r=8 <= 1.15x the base model
(anchors measured on a tiny OLMoE: peft LoRA q,v 1.08x, peft LoRA on the experts via target_parameters 1.34x).

Prints a markdown table and writes bench/results/perft.json.

    .venv/bin/python bench/bench_perft.py                       # 2 threads, batch 8x64, 30 rounds
    .venv/bin/python bench/bench_perft.py --threads 2 --rounds 50 --batch 8 --seq 64 --device cpu
"""
from __future__ import annotations
import argparse, copy, json, platform, statistics, time, warnings
from pathlib import Path
import torch
from peft import get_peft_model
from transformers import OlmoeConfig
from perft_viz.core import TINY_OLMOE_DIR, atomic_write
from perft_viz.model import load_model, random_olmoe
from perft_viz.perft.config import PerftConfig
from perft_viz.adapters import count_parameters, lora_baseline_config

warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
OUT = Path(__file__).resolve().parent/"results"/"perft.json"
TARGETS = {"PERFT-R Top2/8 r=8": 1.10, "PERFT-E r=8": 1.15}

def base_model(device):
    "TinyOLMoE if shipped, else a random OLMoE of the shape the anchors were measured on."
    if (TINY_OLMOE_DIR/"config.json").exists(): return load_model(device=device).model, "TinyOLMoE (assets/tiny-olmoe)"
    cfg = OlmoeConfig(vocab_size=1024, hidden_size=128, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                      num_key_value_heads=4, num_experts=16, num_experts_per_tok=2, max_position_embeddings=512)
    return random_olmoe(cfg).to(device), "random OLMoE (TinyOLMoE not built yet)"

def configs(r:int=8):
    return {"PERFT-S r=8": PerftConfig(variant="S", r=r), "PERFT-D4 r=8": PerftConfig(variant="D", num_experts=4, r=r),
            "PERFT-R Top2/8 r=8": PerftConfig(variant="R", num_experts=8, top_k=2, r=r), "PERFT-E r=8": PerftConfig(variant="E", r=r),
            "peft LoRA q,v r=8": lora_baseline_config("qv", r=r), "peft LoRA experts r=8": lora_baseline_config("experts", r=r)}

def sync(device):
    if device.startswith("cuda"): torch.cuda.synchronize()

def main(threads:int=2, rounds:int=30, batch:int=8, seq:int=64, device:str="cpu"):
    torch.set_num_threads(threads)
    base, source = base_model(device)
    models = {"base": base}
    for name, cfg in configs().items(): models[name] = get_peft_model(copy.deepcopy(base), cfg).eval()
    ids = torch.randint(0, base.config.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(0)).to(device)
    names, times, cpu = list(models), {n: [] for n in models}, {n: [] for n in models}
    with torch.no_grad():
        for n in names:  # warm-up
            for _ in range(2): models[n](input_ids=ids, use_cache=False)
        for i in range(rounds):
            order = names[i % len(names):] + names[:i % len(names)]
            for n in order:
                sync(device); t, c = time.perf_counter(), time.process_time()
                models[n](input_ids=ids, use_cache=False)
                sync(device); times[n].append(time.perf_counter() - t); cpu[n].append(time.process_time() - c)
    med = {n: statistics.median(ts) for n, ts in times.items()}
    cmed = {n: statistics.median(ts) for n, ts in cpu.items()}
    rows = []
    for n in names:
        ratio = med[n] / med["base"]
        target = TARGETS.get(n)
        trainable = 0 if n == "base" else models[n].get_nb_trainable_parameters()[0]
        rows.append(dict(model=n, median_ms=round(med[n] * 1e3, 3), ratio=round(ratio, 3), trainable=trainable,
                         cpu_ms=round(cmed[n] * 1e3, 3), cpu_ratio=round(cmed[n] / cmed["base"], 3),
                         target=target, meets_target=None if target is None else ratio <= target))
    shape = {k: getattr(base.config, k) for k in ("num_hidden_layers", "hidden_size", "intermediate_size", "num_experts", "num_experts_per_tok", "vocab_size")}
    print(f"\nForward latency, {source}, {shape}, batch {batch}x{seq}, {threads} threads, {device}, median of {rounds} interleaved rounds\n")
    print("| model | median ms | x base | CPU ms | CPU x base | trainable params | target (wall) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        t = "" if r["target"] is None else f"<= {r['target']:.2f}x: {'met' if r['meets_target'] else 'MISSED'}"
        print(f"| {r['model']} | {r['median_ms']:.2f} | {r['ratio']:.3f} | {r['cpu_ms']:.2f} | {r['cpu_ratio']:.3f} | {r['trainable']:,} | {t} |")
    olmoe = {n: count_parameters(c)._asdict() for n, c in configs(16).items()}  # r=16 at the OLMoE-1B-7B shape, meta device
    result = dict(benchmark="perft_forward_latency", model=source, shape=shape, batch=[batch, seq], threads=threads, device=device,
                  rounds=rounds, torch=torch.__version__, python=platform.python_version(), machine=platform.machine(),
                  rows=rows, olmoe_1b_7b_param_counts_r16=olmoe)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(OUT, "w") as f: json.dump(result, f, indent=2)
    print(f"\nwrote {OUT}")

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2); p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--batch", type=int, default=8); p.add_argument("--seq", type=int, default=64)
    p.add_argument("--device", default="cpu")
    main(**vars(p.parse_args()))
