"""Benchmark: forward latency of K=4 composed PERFT adapters relative to the base model. Not a test.

Two shapes: TinyOLMoE (assets/tiny-olmoe; a random OLMoE of its shape if it is not built) and the real OLMoE-1B-7B
width with 2 layers and random weights (hidden 2048, 64 experts of width 1024, top-8, vocab 50304). On each, a bank of
four PERFT-R Top2/4 r=8 adapters (random weights) is composed per strategy: routed by an oracle task id (one module per
sequence), by k-means on block inputs (one module per token), by a learned router (all four weighted), parallel (all
four summed), and one adapter alone. The bank wraps the base model itself (no copy) and the base is timed with the
adapters disabled, so every row runs the same weights. Rounds are interleaved (each round times every row once, in a
rotating order) so load changes on a shared machine hit all rows alike; medians of wall time and of process CPU time.

Target from the composition issue: 4 routed adapters <= 1.25x the base model, on both shapes.

    .venv/bin/python bench/bench_compose.py                 # 2 threads; tiny 8x64 x 30 rounds, real width 1x64 x 10 rounds
    .venv/bin/python bench/bench_compose.py --shapes tiny --rounds 50
"""
from __future__ import annotations
import argparse, json, platform, statistics, tempfile, time, warnings
from pathlib import Path
import torch
from peft import get_peft_model
from transformers import OlmoeConfig
from perft_viz.core import TINY_OLMOE_DIR, atomic_write, set_seed
from perft_viz.model import load_model, random_olmoe, toy_tokenizer
from perft_viz.perft.config import PerftConfig
from perft_viz.adapters import olmoe_1b_7b_config
from perft_viz.compose import AdapterBank, ClusterRouter, LearnedRouter, OracleRouter, composing

warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
OUT = Path(__file__).resolve().parent/"results"/"compose.json"
TARGET = 1.25    # routed rows / base
K = 4

def base_of(shape:str):
    "The base model and tokenizer of a shape, and a description."
    if shape == "tiny":
        if (TINY_OLMOE_DIR/"config.json").exists():
            m, tok, _ = load_model(); return m, tok, "TinyOLMoE (assets/tiny-olmoe)"
        cfg = OlmoeConfig(vocab_size=1024, hidden_size=128, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                          num_key_value_heads=4, num_experts=16, num_experts_per_tok=2, max_position_embeddings=512)
        return random_olmoe(cfg), toy_tokenizer(), "random OLMoE of TinyOLMoE's shape"
    cfg = olmoe_1b_7b_config(); cfg.num_hidden_layers = 2
    return random_olmoe(cfg), toy_tokenizer(), "OLMoE-1B-7B width, 2 layers, random weights"

def rows_of(bank:AdapterBank, batch:int, seq:int):
    "name -> (context factory) for every timed row."
    names = bank.names("perft")
    D, L = bank.shape["hidden_size"], bank.shape["num_layers"]
    g = torch.Generator().manual_seed(0)
    cents = [torch.randn(K, D, generator=g) for _ in range(L)]
    learned = LearnedRouter(L, D, K); torch.nn.init.normal_(learned.weight, std=0.02, generator=g)
    oracle, tids = OracleRouter(torch.arange(K)), torch.arange(batch) % K
    pm = bank.model("perft")
    return {
        "base": lambda: pm.disable_adapter(),
        "1 adapter": lambda: composing(bank, names[:1]),
        "4 routed (oracle, 1 per sequence)": lambda: composing(bank, names, "routed", router=oracle, task_ids=tids),
        "4 routed (k-means, 1 per token)": lambda: composing(bank, names, "routed", router=ClusterRouter(cents, [torch.arange(K)] * L, K)),
        "4 routed (learned, all weighted)": lambda: composing(bank, names, "routed", router=learned),
        "4 parallel": lambda: composing(bank, names, "parallel"),
    }

def time_shape(shape:str, threads:int, rounds:int, batch:int, seq:int) -> dict:
    base, tok, source = base_of(shape)
    base.eval()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(K):   # the adapters, saved and loaded as any bank adapter
            set_seed(i)
            pm = get_peft_model(base, PerftConfig(variant="R", num_experts=4, top_k=2, r=8))
            with torch.no_grad():
                for n, p in pm.named_parameters():
                    if "perft_B" in n: p.normal_(std=0.02)
            pm.save_pretrained(f"{tmp}/a{i}")
            base = pm.unload()
        bank = AdapterBank(base, tok, copy_base=False)
        for i in range(K): bank.load(f"{tmp}/a{i}", f"perft/a{i}")
    rows = rows_of(bank, batch, seq)
    pm = bank.model("perft")
    ids = torch.randint(0, base.config.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(0))
    names, wall, cpu = list(rows), {n: [] for n in rows}, {n: [] for n in rows}
    with torch.no_grad():
        for n in names:
            with rows[n](): pm(input_ids=ids, use_cache=False)          # warm-up
        for i in range(rounds):
            for n in names[i % len(names):] + names[:i % len(names)]:
                with rows[n]():
                    t, c = time.perf_counter(), time.process_time()
                    pm(input_ids=ids, use_cache=False)
                    wall[n].append(time.perf_counter() - t); cpu[n].append(time.process_time() - c)
    med = {n: statistics.median(v) for n, v in wall.items()}; cmed = {n: statistics.median(v) for n, v in cpu.items()}
    out = []
    for n in names:
        ratio = med[n] / med["base"]; routed = n.startswith("4 routed")
        out.append(dict(row=n, median_ms=round(med[n] * 1e3, 2), ratio=round(ratio, 3), cpu_ms=round(cmed[n] * 1e3, 2),
                        cpu_ratio=round(cmed[n] / cmed["base"], 3), target=TARGET if routed else None,
                        meets_target=(ratio <= TARGET) if routed else None))
    cfg = {k: getattr(base.config, k) for k in ("num_hidden_layers", "hidden_size", "intermediate_size", "num_experts", "num_experts_per_tok", "vocab_size")}
    return dict(shape=shape, model=source, config=cfg, batch=[batch, seq], rounds=rounds, rows=out)

def main(threads:int=2, shapes:str="tiny,real", rounds:int=30, real_rounds:int=10, batch:int=8, seq:int=64, real_batch:int=1):
    torch.set_num_threads(threads)
    results = []
    for s in shapes.split(","):
        r = time_shape(s, threads, rounds if s == "tiny" else real_rounds, batch if s == "tiny" else real_batch, seq)
        results.append(r)
        print(f"\n{r['model']}, {r['config']}, batch {r['batch'][0]}x{r['batch'][1]}, {threads} threads, median of {r['rounds']} interleaved rounds\n")
        print("| composition | median ms | x base | CPU ms | CPU x base | target (wall) |")
        print("|---|---:|---:|---:|---:|---|")
        for row in r["rows"]:
            t = "" if row["target"] is None else f"<= {row['target']:.2f}x: {'met' if row['meets_target'] else 'MISSED'}"
            print(f"| {row['row']} | {row['median_ms']:.2f} | {row['ratio']:.3f} | {row['cpu_ms']:.2f} | {row['cpu_ratio']:.3f} | {t} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(OUT, "w") as f:
        json.dump(dict(benchmark="compose_forward_latency", threads=threads, torch=torch.__version__, python=platform.python_version(),
                       machine=platform.machine(), date=time.strftime("%Y-%m-%d"), results=results), f, indent=2)
    print(f"\nwrote {OUT}")

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2); p.add_argument("--shapes", default="tiny,real")
    p.add_argument("--rounds", type=int, default=30); p.add_argument("--real-rounds", type=int, default=10)
    p.add_argument("--batch", type=int, default=8); p.add_argument("--seq", type=int, default=64); p.add_argument("--real-batch", type=int, default=1)
    main(**{k.replace("-", "_"): v for k, v in vars(p.parse_args()).items()})
