"""Benchmark: 4-bit vs full-precision forward speed at OLMoE-1B-7B's width (perft_viz.quant). Not a test.

For each `--layers` count, builds an OLMoE with the real width (hidden 2048, 64 experts of width 1024, top-8, vocab
50304): once in full precision (fp32, `load_model`'s default), random weights drawn layer by layer from fixed seeds,
then once per quantization from the same weights (each decoder layer quantized as soon as it exists). Decoder layer i
holds the weights of layer i % `--distinct-layers` (default 2): the 16-layer shape in fp32 would need 27 GB, and a
1-token decode reads every expert it routes to from memory either way (8 experts x 24 MB per layer in fp32 is far
beyond any cache), so the shared weights do not flatter either side. Embeddings, final norm and the fp32 lm_head are
shared by all models, except in "int4+lm_head", whose lm_head is int8 (`quantize_model(..., "int4", lm_head=True)`).
Then, side by side in this process, alternating the models run by run, for each thread count:

- prefill: one forward of a 1 x `--tokens` prompt with the logits of its last position only, as `generate` computes
  them (tokens/s = tokens / median time);
- prefill with the logits of every position (what runs C-F called prefill; a quantized lm_head loses there);
- decode: one forward of 1 token after that prompt, with the KV cache (the cache is cropped back after each run);
- decode without the lm_head (the decoder layers alone).

Prefill and decode are timed in one pass and the all-logits prefill in a second one, each alternating the models run by
run: a 64 x 50304 int8 lm_head product run just before a decode made the int8 lm_head's 1-token product a third slower
(runs C-H timed all four in one pass; `generate` never computes every position's logits).

Each of `--routing`: "weights" routes with the random router weights. Random weights route badly: in deeper layers the
hidden states share one direction, so most of a prompt's tokens pick the same few experts (the JSON records, per
layer, the share of (token, slot) pairs on experts that got more than 16 tokens). That is the case the fused int4
kernel likes least (it is fastest at few rows per expert; see bench_int4_kernel.py). "balanced" replaces every
router's choice, in all models alike, by a fixed random draw of top-k distinct experts per token position (weights
1/k): each expert gets about tokens*k/E tokens, as under the load-balancing loss OLMoE was trained with.

The machine's load average (1, 5, 15 min) is recorded before each thread count and at the end: a busy machine
starves the timed threads, so the CPU seconds this process used per run are recorded too (their ratios are less
hurt by other jobs; on a quiet machine the wall-clock ratios are the figures). On a CUDA device (when one exists) the same runs compare bitsandbytes' CUDA kernels
("nf4": `QuantizedExperts` dequantizes with bitsandbytes, attention in bitsandbytes' `Linear4bit`) with full
precision; int4 is CPU-only. Prints a markdown table with ratios to full precision and writes JSON.

The lead's one command (2-layer and 16-layer shapes, 1 and 2 threads, both routings, about 40 min on a quiet 2-core machine):

    .venv/bin/python bench/bench_quant_speed.py --layers 2 16 --out bench/results/quant_speed_quiet.json

Other uses:

    .venv/bin/python bench/bench_quant_speed.py --layers 2 --quantizations int4 int4+lm_head nf4 --threads 1
    .venv/bin/python bench/bench_quant_speed.py --device cuda          # GPU: nf4 (bitsandbytes CUDA) vs full precision
"""
from __future__ import annotations
import argparse, gc, json, os, platform, resource, statistics, time
from pathlib import Path
import torch
from transformers import DynamicCache, OlmoeConfig, OlmoeForCausalLM
from perft_viz.core import atomic_write
from perft_viz.quant import model_memory, quantize_linear, quantize_model

GB = 2**30
OUT = Path(__file__).resolve().parent/"results"/"quant_speed.json"
VARIANTS = {"int4": ("int4", False), "int4+lm_head": ("int4", True), "nf4": ("nf4", False), "fp4": ("fp4", False), "int8": ("int8", False)}

def peak_rss_gb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB

def load() -> list[float]: return [round(x, 2) for x in os.getloadavg()]

def sync(device):
    if device.type == "cuda": torch.cuda.synchronize()

def fill(module, config, g):
    with torch.no_grad():
        for n, p in module.named_parameters(): p.fill_(1.0) if "norm" in n else p.normal_(0.0, config.initializer_range, generator=g)

def build(config, quantization, device, distinct, shared=None):
    "`config` in fp32 on `device`, layer i with the weights of layer i % `distinct` (drawn from its own seed), each layer quantized once."
    with torch.device("meta"): model = OlmoeForCausalLM(config)
    layers = model.model.layers
    for i, layer in enumerate(layers):
        if i >= distinct:   # share the weights, keep the layer's own attention module (its layer_idx indexes the KV cache)
            src = layers[i % distinct]
            layer.mlp, layer.input_layernorm, layer.post_attention_layernorm = src.mlp, src.input_layernorm, src.post_attention_layernorm
            for name, m in src.self_attn.named_children(): layer.self_attn.set_submodule(name, m)
            continue
        layer.to_empty(device=device)
        fill(layer, config, torch.Generator(device).manual_seed(1000 + i))
        if quantization: quantize_model(layer, quantization)
        gc.collect()
    if shared is None:
        for m in (model.model.embed_tokens, model.model.norm, model.lm_head):
            m.to_empty(device=device); fill(m, config, torch.Generator(device).manual_seed(0))
        model.model.rotary_emb = type(model.model.rotary_emb)(config).to(device)
    else:
        model.model.embed_tokens, model.model.norm, model.lm_head, model.model.rotary_emb = (
            shared.model.embed_tokens, shared.model.norm, shared.lm_head, shared.model.rotary_emb)
    return model.eval()

def with_quantized_lm_head(config, quantized, full, quantization):
    "`quantized`'s decoder layers with a quantized copy of `full`'s lm_head: what `quantize_model(..., lm_head=True)` builds."
    with torch.device("meta"): model = OlmoeForCausalLM(config)
    model.model = quantized.model
    model.lm_head = quantize_linear(full.lm_head, quantization)
    return model.eval()

def gates(model) -> list:
    "The routers of `model`'s decoder layers, each once (layers past --distinct-layers share their MoE block)."
    return list(dict.fromkeys(l.mlp.gate for l in model.model.layers))

def balanced_routing(config, tokens:int, seed:int=0):
    "(indices, weights) of `tokens` positions, each a uniform random draw of top-k distinct experts."
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randperm(config.num_experts, generator=g)[:config.num_experts_per_tok] for _ in range(tokens)])
    return idx, torch.full(idx.shape, 1 / config.num_experts_per_tok)

def route_balanced(model, config, tokens:int) -> list:
    "Hooks making every router of `model` return `balanced_routing` (position t of a call gets draw t); remove them when done."
    idx, w = balanced_routing(config, tokens)
    def hook(mod, args, out):
        logits, n = out[0], out[0].shape[0]
        return logits, w[:n].to(logits.device, logits.dtype), idx[:n].to(logits.device)
    return [g.register_forward_hook(hook) for g in gates(model)]

def crowding(model, prompt, crowded:int=16) -> list[float]:
    "Per layer: the share of the prompt's (token, slot) pairs on experts that got more than `crowded` tokens."
    shares = []
    def hook(mod, args, out):
        counts = torch.bincount(out[2].reshape(-1), minlength=mod.num_experts)
        shares.append(round(counts[counts > crowded].sum().item() / out[2].numel(), 3))
    hs = [g.register_forward_hook(hook) for g in gates(model)]
    try: model(prompt, use_cache=False)
    finally: [h.remove() for h in hs]
    return shares

def timers(model, prompt):
    "Callables: prefill of the prompt (last position's logits, every position's); decode of one token on its KV cache, with and without the lm_head."
    cache = DynamicCache(config=model.config)
    with torch.inference_mode(): model(prompt, past_key_values=cache, use_cache=True)
    nxt = prompt[:, -1:]
    def decode():
        model(nxt, past_key_values=cache, use_cache=True); cache.crop(-1)
    def decode_layers():
        model.model(nxt, past_key_values=cache, use_cache=True); cache.crop(-1)
    return (lambda: model(prompt, use_cache=False, logits_to_keep=1)), (lambda: model(prompt, use_cache=False)), decode, decode_layers

def time_pass(fns:dict, which:list, times:dict, cpu:dict, runs:int, device):
    "Time the callables `fns[k][i]`, i in `which` (after one warm-up), alternating the models run by run; seconds go to times[k][i] / cpu[k][i]."
    for fs in fns.values(): [fs[i]() for i in which]
    sync(device)
    for _ in range(runs):
        for k, fs in fns.items():
            for i in which:
                c, t = time.process_time(), time.perf_counter(); fs[i](); sync(device)
                times[k][i].append(time.perf_counter() - t); cpu[k][i].append(time.process_time() - c)

def run_shape(args, layers, device) -> dict:
    config = OlmoeConfig(intermediate_size=1024, num_hidden_layers=layers)
    distinct = min(layers, args.distinct_layers)
    t0 = time.perf_counter()
    models = {"fp32": build(config, None, device, distinct)}
    for v in args.quantizations:
        q, lm_head = VARIANTS[v]
        if lm_head: models[v] = with_quantized_lm_head(config, models[q] if q in models else build(config, q, device, distinct, shared=models["fp32"]), models["fp32"], q)
        else: models[v] = build(config, q, device, distinct, shared=models["fp32"])
    build_s = time.perf_counter() - t0
    distinct_layers = lambda m: m.model.layers[:distinct]
    mem = {k: model_memory(distinct_layers(m)).total for k, m in models.items()}
    lm = {k: model_memory(m.lm_head).total for k, m in models.items()}
    prompt = torch.randint(0, config.vocab_size, (1, args.tokens), generator=torch.Generator().manual_seed(0)).to(device)
    res = dict(layers=layers, distinct_layers=distinct, build_s=build_s, decoder_layer_bytes=mem, lm_head_bytes=lm, rows=[], load_avg={}, crowded_share={})
    threads = args.threads if device.type == "cpu" else [torch.get_num_threads()]
    with torch.inference_mode():
        unique = list({id(m.model): m for m in models.values()}.values())   # int4+lm_head shares int4's decoder
        for routing in args.routing:
            hooks = [h for m in unique for h in route_balanced(m, config, args.tokens)] if routing == "balanced" else []
            res["crowded_share"][routing] = crowding(models["fp32"], prompt)
            for th in threads:
                torch.set_num_threads(th)
                res["load_avg"][f"before {routing}, {th} threads"] = load()
                fns = {k: timers(m, prompt) for k, m in models.items()}
                times, cpu = {k: ([], [], [], []) for k in models}, {k: ([], [], [], []) for k in models}
                # two passes: prefill then decode (as `generate` runs them; balanced: prefill only, a 1-token decode hits 8
                # experts either way), then every position's logits on their own (a 64 x 50304 lm_head product slowed the
                # int8 lm_head's next 1-token product by a third when run in between)
                for which in ([0] if routing == "balanced" else [0, 2, 3]), [1]:
                    time_pass(fns, which, times, cpu, args.runs, device)
                for k, ts in times.items():
                    med = [statistics.median(t) if t else None for t in ts]
                    cmed = [statistics.median(t) if t else None for t in cpu[k]]   # CPU seconds of this process: less hurt than wall time when other jobs take the cores
                    per_s = lambda n, t: n / t if t else None
                    res["rows"].append(dict(model=k, routing=routing, threads=th, prefill_tok_s=per_s(args.tokens, med[0]), prefill_all_logits_tok_s=per_s(args.tokens, med[1]),
                                            decode_tok_s=per_s(1, med[2]), decode_layers_tok_s=per_s(1, med[3]),
                                            prefill_s=ts[0], prefill_all_logits_s=ts[1], decode_s=ts[2], decode_layers_s=ts[3],
                                            prefill_cpu_s=cmed[0], prefill_all_logits_cpu_s=cmed[1], decode_cpu_s=cmed[2], decode_layers_cpu_s=cmed[3]))
            for h in hooks: h.remove()
    res["load_avg"]["after"] = load()
    del models, fns; gc.collect()
    return res

def report(res, shape, device):
    ref = {(r["routing"], r["threads"]): r for r in shape["rows"] if r["model"] == "fp32"}
    mem, bf16 = shape["decoder_layer_bytes"], shape["decoder_layer_bytes"]["fp32"] / 2
    print(f"\n### {shape['layers']} layers ({shape['distinct_layers']} distinct) at OLMoE-1B-7B width, random weights, {device}, prefill 1x{res['tokens']}, "
          f"decode 1 token with KV cache, median of {res['runs']}; load average {shape['load_avg']}\n")
    for routing, share in shape["crowded_share"].items():
        print(f"routing '{routing}': share of (token, slot) pairs on experts with > 16 of the prompt's tokens, per layer: {share}")
    print()
    print("| model | routing | threads | decoder layers / bf16 bytes | lm_head MB | prefill tok/s | vs fp32 | prefill, all logits | vs fp32 "
          "| decode tok/s | vs fp32 | decode without lm_head | vs fp32 | CPU time vs fp32: prefill / decode |\n" + "|---" * 14 + "|")
    ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
    num = lambda a, d: f"{a:.{d}f}" if a else "-"
    for r in shape["rows"]:
        f = ref[(r["routing"], r["threads"])]
        cpu = lambda k: ratio(f[k], r[k])   # CPU seconds: fp32's / this model's
        print(f"| {r['model']} | {r['routing']} | {r['threads']} | {mem[r['model']] / bf16:.3f} | {shape['lm_head_bytes'][r['model']] / 2**20:.0f} "
              f"| {num(r['prefill_tok_s'], 1)} | **{ratio(r['prefill_tok_s'], f['prefill_tok_s'])}** | {num(r['prefill_all_logits_tok_s'], 1)} | {ratio(r['prefill_all_logits_tok_s'], f['prefill_all_logits_tok_s'])} "
              f"| {num(r['decode_tok_s'], 2)} | **{ratio(r['decode_tok_s'], f['decode_tok_s'])}** | {num(r['decode_layers_tok_s'], 2)} | {ratio(r['decode_layers_tok_s'], f['decode_layers_tok_s'])} "
              f"| {cpu('prefill_cpu_s')} / {cpu('decode_cpu_s')} |")
    print(f"\nbuild {shape['build_s']:.0f} s")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, nargs="+", default=[2], help="decoder layer counts to measure, one shape after another (OLMoE-1B-7B has 16)")
    ap.add_argument("--distinct-layers", type=int, default=2, help="layer i holds the weights of layer i %% this (fp32 16 layers would need 27 GB)")
    ap.add_argument("--quantizations", nargs="+", default=None, choices=list(VARIANTS),
                    help="default: int4 int4+lm_head on a CPU, nf4 on CUDA")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU threads (ignored on CUDA)")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--routing", nargs="+", default=["weights", "balanced"], choices=["weights", "balanced"],
                    help="the random weights' own routing, and/or a balanced random draw per token (see above)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per model (median), after one warm-up")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=str(OUT), help="where to write the JSON results")
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.quantizations is None: args.quantizations = ["int4", "int4+lm_head"] if device.type == "cpu" else ["nf4"]
    bad = [v for v in args.quantizations if VARIANTS[v][0] == "int4" and device.type != "cpu"]
    if bad: ap.error(f"{bad} run on the CPU only (PyTorch's int4 CPU kernel); on {device.type} use nf4/fp4/int8 (bitsandbytes' kernels)")
    import bitsandbytes, transformers
    res = dict(torch=torch.__version__, transformers=transformers.__version__, bitsandbytes=bitsandbytes.__version__, python=platform.python_version(),
               device=str(device), device_name=torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
               cpu_capability=torch.backends.cpu.get_cpu_capability(), cpus=os.cpu_count(), tokens=args.tokens, runs=args.runs,
               load_avg_start=load(), shapes=[])
    for layers in args.layers:
        res["shapes"].append(run_shape(args, layers, device)); gc.collect()
        report(res, res["shapes"][-1], device)
        with atomic_write(Path(args.out), "w") as fh: json.dump(res, fh, indent=1)   # each shape as soon as it is done
    res["peak_rss_gb"] = peak_rss_gb()
    with atomic_write(Path(args.out), "w") as fh: json.dump(res, fh, indent=1)
    print(f"\npeak RSS {res['peak_rss_gb']:.2f} GB; wrote {args.out}")

if __name__ == "__main__":
    main()
