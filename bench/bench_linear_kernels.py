"""Micro-benchmark: one 2048 x 2048 weight (an OLMoE-1B-7B attention projection, or an expert's gate half) in fp32, int4
and int8, by tokens per call and threads. Not a test.

Side by side in one process: `--weights` different weights are cycled so that none stays in cache (a decode reads
every routed expert from memory), each candidate timed as the median of `--runs` sweeps, time per weight reported.
Candidates: fp32 `x @ W^T` (MKL, what the full-precision model runs), int4 (`quantize_int4`, groups of 64,
`_weight_int4pack_mm_for_cpu`, bf16 activations) and int8 per row (`quantize_int8`, `_weight_int8pack_mm`). The table in
`nbs/01_quant.ipynb` ("Why this kernel") is this script's output.

    .venv/bin/python bench/bench_linear_kernels.py --out bench/results/linear_kernels.json
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, time
from pathlib import Path
import torch
from perft_viz.core import atomic_write
from perft_viz.quant import quantize_int4, quantize_int8

def median_ms(f, runs:int) -> float:
    f(); ts = []
    for _ in range(runs):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, nargs="+", default=[1, 8, 64], help="rows M per call")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--weights", type=int, default=16, help="different weights cycled (16 x 16 MB fp32 is beyond any cache here)")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent/"results"/"linear_kernels.json"))
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    W = [torch.randn(2048, 2048, generator=g) * 0.02 for _ in range(args.weights)]
    int4, int8 = [quantize_int4(w, 64) for w in W], [quantize_int8(w) for w in W]
    candidates = {
        "fp32": lambda x: [x.float() @ w.t() for w in W],
        "int4": lambda x: [torch.ops.aten._weight_int4pack_mm_for_cpu(x, p, 64, sz) for p, sz in int4],
        "int8": lambda x: [torch.ops.aten._weight_int8pack_mm(x, q, s) for q, s in int8]}
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for m in args.tokens:
            x = torch.randn(m, 2048, generator=g).bfloat16()
            us = {k: round(median_ms(lambda: f(x), args.runs) * 1000 / len(W)) for k, f in candidates.items()}
            rows.append({"threads": threads, "tokens": m, **{f"{k}_us": v for k, v in us.items()}, "load": [round(v, 2) for v in os.getloadavg()]})
            print(f"| {m} | {threads} | " + " | ".join(f"{v} us" for v in us.values()) + " |", flush=True)
    out = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__, "weights": args.weights, "runs": args.runs, "rows": rows}
    with atomic_write(Path(args.out), "w") as fh: json.dump(out, fh, indent=1)
    print("wrote", args.out)

if __name__ == "__main__": main()
