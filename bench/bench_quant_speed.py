"""Benchmark: 4-bit vs full-precision forward speed at OLMoE-1B-7B's width (perft_viz.quant). Not a test.

Builds an OLMoE with the real width (hidden 2048, 64 experts of width 1024, top-8, vocab 50304) and `--layers` decoder
layers, random weights drawn layer by layer from fixed seeds, once in full precision (fp32, `load_model`'s default) and
once per quantization (each decoder layer quantized as soon as it exists; embeddings, final norm and lm_head are shared,
they are never quantized). Then, side by side in this process, alternating the models run by run, for each thread count:

- prefill: one forward of a 1 x `--tokens` prompt (tokens/s = tokens / median time);
- decode: one forward of 1 token after that prompt, with the KV cache (the cache is cropped back after each run).

Prints a markdown table with ratios to full precision and writes bench/results/quant_speed.json.

    .venv/bin/python bench/bench_quant_speed.py                      # 2 layers, nf4 and int4, 1 and 2 threads
    .venv/bin/python bench/bench_quant_speed.py --quantizations int4 --threads 2
"""
from __future__ import annotations
import argparse, gc, json, platform, resource, statistics, time
from pathlib import Path
import torch
from transformers import DynamicCache, OlmoeConfig, OlmoeForCausalLM
from perft_viz.core import atomic_write
from perft_viz.quant import model_memory, quantize_model

GB = 2**30
OUT = Path(__file__).resolve().parent/"results"/"quant_speed.json"

def peak_rss_gb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB

def build(config, quantization, shared=None):
    "`config` on CPU, fp32, each decoder layer drawn from its own seed (the same weights for every quantization)."
    with torch.device("meta"): model = OlmoeForCausalLM(config)
    for i, layer in enumerate(model.model.layers):
        layer.to_empty(device="cpu")
        g = torch.Generator().manual_seed(1000 + i)
        with torch.no_grad():
            for n, p in layer.named_parameters(): p.fill_(1.0) if "norm" in n else p.normal_(0.0, config.initializer_range, generator=g)
        if quantization: quantize_model(layer, quantization)
        gc.collect()
    if shared is None:
        g = torch.Generator().manual_seed(0)
        for m in (model.model.embed_tokens, model.model.norm, model.lm_head):
            m.to_empty(device="cpu")
            with torch.no_grad():
                for n, p in m.named_parameters(): p.fill_(1.0) if "norm" in n else p.normal_(0.0, config.initializer_range, generator=g)
        model.model.rotary_emb = type(model.model.rotary_emb)(config)
    else:
        model.model.embed_tokens, model.model.norm, model.lm_head, model.model.rotary_emb = (
            shared.model.embed_tokens, shared.model.norm, shared.lm_head, shared.model.rotary_emb)
    return model.eval()

def timers(model, prompt):
    "Callables: prefill of the prompt; decode of one token on the prompt's KV cache, with and without the lm_head."
    cache = DynamicCache(config=model.config)
    with torch.inference_mode(): model(prompt, past_key_values=cache, use_cache=True)
    nxt = prompt[:, -1:]
    def decode():
        model(nxt, past_key_values=cache, use_cache=True); cache.crop(-1)
    def decode_layers():   # the same without the (full-precision, shared) lm_head
        model.model(nxt, past_key_values=cache, use_cache=True); cache.crop(-1)
    return (lambda: model(prompt, use_cache=False)), decode, decode_layers

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--quantizations", nargs="+", default=["int4", "nf4"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--runs", type=int, default=5, help="timed runs per model (median), after one warm-up")
    ap.add_argument("--out", default=str(OUT), help="where to write the JSON results")
    args = ap.parse_args()
    config = OlmoeConfig(intermediate_size=1024, num_hidden_layers=args.layers)
    t0 = time.perf_counter()
    models = {"fp32": build(config, None)}
    for q in args.quantizations: models[q] = build(config, q, shared=models["fp32"])
    build_s = time.perf_counter() - t0
    mem = {k: model_memory(m.model.layers).total for k, m in models.items()}
    prompt = torch.randint(0, config.vocab_size, (1, args.tokens), generator=torch.Generator().manual_seed(0))
    res = dict(torch=torch.__version__, python=platform.python_version(), layers=args.layers, tokens=args.tokens, runs=args.runs,
               build_s=build_s, decoder_layer_bytes=mem, rows=[])
    with torch.inference_mode():
        for th in args.threads:
            torch.set_num_threads(th)
            fns = {k: timers(m, prompt) for k, m in models.items()}
            times = {k: ([], [], []) for k in models}
            for k, fs in fns.items(): [f() for f in fs]                       # warm-up
            for _ in range(args.runs):                                        # alternate models run by run
                for k, fs in fns.items():
                    for fn, out in zip(fs, times[k]):
                        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
            for k, (tp, td, tl) in times.items():
                res["rows"].append(dict(model=k, threads=th, prefill_tok_s=args.tokens / statistics.median(tp), decode_tok_s=1 / statistics.median(td),
                                        decode_layers_tok_s=1 / statistics.median(tl), prefill_s=tp, decode_s=td, decode_layers_s=tl))
    res["peak_rss_gb"] = peak_rss_gb()
    ref = {r["threads"]: r for r in res["rows"] if r["model"] == "fp32"}
    print(f"\n### {args.layers} layers at OLMoE-1B-7B width, random weights, CPU, prefill 1x{args.tokens}, decode 1 token with KV cache, median of {args.runs}\n")
    print("| model | threads | decoder layers / fp32 bytes | prefill tok/s | vs fp32 | decode tok/s | vs fp32 | decode without lm_head, tok/s | vs fp32 |\n|---|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        f = ref[r["threads"]]
        print(f"| {r['model']} | {r['threads']} | {mem[r['model']] / mem['fp32']:.3f} | {r['prefill_tok_s']:.1f} | {r['prefill_tok_s'] / f['prefill_tok_s']:.2f}x | "
              f"{r['decode_tok_s']:.2f} | {r['decode_tok_s'] / f['decode_tok_s']:.2f}x | {r['decode_layers_tok_s']:.2f} | {r['decode_layers_tok_s'] / f['decode_layers_tok_s']:.2f}x |")
    print(f"\nbuild {build_s:.0f} s, peak RSS {res['peak_rss_gb']:.2f} GB")
    with atomic_write(Path(args.out), "w") as fh: json.dump(res, fh, indent=1)
    print(f"wrote {args.out}")

if __name__ == "__main__":
    main()
