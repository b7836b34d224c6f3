"""Micro-benchmark: PyTorch's int4 CPU kernel vs a dense fp32 matmul for one OLMoE-1B-7B expert, by tokens per call. Not a test.

One expert at the real width: gate_up x [M, 2048] @ W [2048, 2048]^T and down x [M, 1024] @ W [2048, 1024]^T, side by
side in one process, models alternated, median of `--runs` per candidate, on `--threads` (default 1). Candidates:

- fp32 dense (`F.linear`, what the full-precision model runs);
- int4 (`quantize_int4` + `_weight_int4pack_mm_for_cpu`, bf16 activations) at group sizes 32, 64, 128, 256;
- int4 with fp32 activations and scales (the kernel accepts them, on a slow path);
- dequantize once (fp32) + dense matmul (a fallback for many tokens per expert);
- `torch.ops.aten._dyn_quant_matmul_4bit` (int8-activation x int4-weight; KleidiAI-backed on Arm, reference code elsewhere).

With `--experts`, also one layer's 64 experts (transformers' fp32 `OlmoeExperts` vs the int4 `QuantizedExperts` built
from the same weights) on the 64-token prompt of `bench_quant_speed.py`'s 2-layer random-weight model: with that
model's own routing (captured at each layer's experts), and with the same hidden states routed evenly (token t to
experts 8t..8t+7 mod 64: every expert gets 8 tokens, as a load-balanced router would give on average).

    .venv/bin/python bench/bench_int4_kernel.py --out bench/results/int4_kernel_1thread.json
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, time
from pathlib import Path
import torch
import torch.nn.functional as F
from perft_viz.core import atomic_write
from perft_viz.quant import dequantize_int4, quantize_int4

mm4 = torch.ops.aten._weight_int4pack_mm_for_cpu

def fast_dequantize(packed, sz, g):   # [N, K/2], [K/g, N, 2] -> [N, K] fp32
    "`dequantize_int4` with strided ops: the CPU layout keeps rows j and 16+j of each 32-row block in one byte, per k."
    N, K = packed.shape[0], packed.shape[1] * 2
    v = packed.view(N // 32, K, 16)
    codes = torch.cat([v & 15, v >> 4], -1).transpose(1, 2).reshape(N, K // g, g)
    scale, zero = (t.t()[..., None] for t in sz.float().unbind(-1))                 # [N, K/g, 1]
    return torch.addcmul(zero - 8 * scale, codes.float(), scale).reshape(N, K)

def experts_table(args) -> list[dict]:
    from transformers import OlmoeConfig
    from bench_quant_speed import build   # this folder's whole-model benchmark: same weights, same prompt
    config = OlmoeConfig(intermediate_size=1024, num_hidden_layers=2)
    full = build(config, None, torch.device("cpu"), 2)
    quant = build(config, "int4", torch.device("cpu"), 2, shared=full)
    prompt = torch.randint(0, config.vocab_size, (1, 64), generator=torch.Generator().manual_seed(0))
    seen = []
    hooks = [l.mlp.experts.register_forward_pre_hook(lambda m, a: seen.append(a)) for l in full.model.layers]
    with torch.inference_mode(): full(prompt, use_cache=False)
    for h in hooks: h.remove()
    rows = []
    print("\n| layer | routing | experts hit | tokens per expert hit: max / mean | fp32 experts ms | int4 experts ms | int4 speed-up |\n|---|---|---|---|---|---|---|")
    for i, (x, idx, w) in enumerate(seen):
        T, k = idx.shape
        even = (torch.arange(T)[:, None] * k + torch.arange(k)) % config.num_experts          # [T, k]
        for name, route in (("bench model's own", idx), ("even (8 per expert)", even)):
            fp, q4 = full.model.layers[i].mlp.experts, quant.model.layers[i].mlp.experts
            c = {"fp32": lambda: fp(x, route, w), "int4": lambda: q4(x, route, w)}
            t = {kk: [] for kk in c}
            with torch.inference_mode():
                for fn in c.values(): fn()
                for _ in range(args.runs):
                    for kk, fn in c.items(): a = time.perf_counter(); fn(); t[kk].append(time.perf_counter() - a)
            m = {kk: statistics.median(v) for kk, v in t.items()}
            counts = torch.bincount(route.reshape(-1), minlength=config.num_experts)
            hit = counts[counts > 0]
            rows.append(dict(layer=i, routing=name, experts_hit=len(hit), max_tokens=int(hit.max()), mean_tokens=float(hit.float().mean()), median_s=m, times_s=t))
            print(f"| {i} | {name} | {len(hit)} | {int(hit.max())} / {hit.float().mean():.1f} | {m['fp32'] * 1e3:.0f} | {m['int4'] * 1e3:.0f} | {m['fp32'] / m['int4']:.2f}x |", flush=True)
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, nargs="+", default=[1, 2, 4, 5, 8, 12, 16, 32, 64], help="rows M per call")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--experts", action="store_true", help="also time one layer's experts, fp32 vs int4, with the bench model's routing and an even one")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent/"results"/"int4_kernel.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    weights = {"gate_up": torch.randn(2048, 2048, generator=g) * 0.02, "down": torch.randn(2048, 1024, generator=g) * 0.02}   # [N, K]
    q = {gs: {k: quantize_int4(w, gs) for k, w in weights.items()} for gs in (32, 64, 128, 256)}
    exact = {k: dequantize_int4(*q[64][k], 64) for k in weights}
    assert all(torch.equal(fast_dequantize(*q[64][k], 64), exact[k]) for k in weights)
    pack_dyn = {k: torch.ops.aten._dyn_quant_pack_4bit_weight(
        (lambda c: (c[:, 1::2] << 4 | c[:, ::2]).contiguous())(torch.randint(0, 16, w.shape, dtype=torch.uint8, generator=g)),
        torch.rand(w.shape[0], w.shape[1] // 32, generator=g).bfloat16() * 0.01, torch.zeros(w.shape[0]), 32, w.shape[1], w.shape[0]) for k, w in weights.items()}
    res = dict(torch=torch.__version__, python=platform.python_version(), cpu_capability=torch.backends.cpu.get_cpu_capability(),
               cpus=os.cpu_count(), threads=args.threads, runs=args.runs, load_avg_start=os.getloadavg(), rows=[])
    print(f"one expert (gate_up + down) at OLMoE-1B-7B width, {args.threads} thread(s), {res['cpu_capability']}, median of {args.runs}; ms, and fp32 time / candidate time\n")
    print("| M | fp32 ms | int4 g32 | int4 g64 | int4 g128 | int4 g256 | int4 g64, fp32 activations | dequantize + fp32 | _dyn_quant_matmul_4bit |\n|---|---|---|---|---|---|---|---|---|")
    with torch.inference_mode():
        for M in args.tokens:
            x = {k: torch.randn(M, w.shape[1], generator=g) for k, w in weights.items()}
            xb = {k: t.bfloat16() for k, t in x.items()}
            cands = {"fp32": lambda: [F.linear(x[k], w) for k, w in weights.items()]}
            for gs in (32, 64, 128, 256):
                cands[f"int4 g{gs}"] = lambda gs=gs: [mm4(xb[k], q[gs][k][0], gs, q[gs][k][1]) for k in weights]
            if M <= 8: cands["int4 g64 fp32 act"] = lambda: [mm4(x[k], q[64][k][0], 64, q[64][k][1].float()) for k in weights]
            cands["dequantize + fp32"] = lambda: [F.linear(x[k], fast_dequantize(*q[64][k], 64)) for k in weights]
            if M <= 8: cands["dyn_quant"] = lambda: [torch.ops.aten._dyn_quant_matmul_4bit(x[k], pack_dyn[k], 32, w.shape[1], w.shape[0]) for k, w in weights.items()]
            times = {k: [] for k in cands}
            for fn in cands.values(): fn()                                      # warm-up
            for _ in range(args.runs):                                          # alternate candidates run by run
                for k, fn in cands.items():
                    t = time.perf_counter(); fn(); times[k].append(time.perf_counter() - t)
            med = {k: statistics.median(v) for k, v in times.items()}
            res["rows"].append(dict(M=M, median_s=med, times_s=times))
            cell = lambda k: f"{med[k] * 1e3:.2f} ({med['fp32'] / med[k]:.2f}x)" if k in med else "-"
            print(f"| {M} | {med['fp32'] * 1e3:.2f} | " + " | ".join(cell(k) for k in ("int4 g32", "int4 g64", "int4 g128", "int4 g256", "int4 g64 fp32 act", "dequantize + fp32", "dyn_quant")) + " |", flush=True)
    if args.experts: res["experts"] = experts_table(args)
    res["load_avg_end"] = os.getloadavg()
    with atomic_write(Path(args.out), "w") as fh: json.dump(res, fh, indent=1)
    print(f"\nload average {res['load_avg_start']} -> {res['load_avg_end']}; wrote {args.out}")

if __name__ == "__main__":
    main()
