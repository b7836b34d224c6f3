"""Benchmark: real 4-bit OLMoE experts (perft_viz.quant). Not a test.

(a) Builds the OLMoE-1B-7B architecture (16 layers, hidden 2048, 64 experts top-8, expert width 1024: `OlmoeConfig()`
    defaults except intermediate_size, whose transformers default is 2048)
    with random bf16 weights, quantizing it AS IT IS BUILT: the model is created on the meta device, then each
    decoder layer is materialized, randomly initialised, quantized and left quantized before the next one, so
    the bf16 model (~14 GB) never exists at once. Reports quantized bytes / bf16 bytes (whole model and decoder
    layers), peak RSS, build time, forward tokens/s (1x32 prompt and 1x1 decode-like step), and the cost of
    dequantizing only the routed-to experts vs all of them.
(b) On TinyOLMoE (assets/tiny-olmoe) if it exists, else a random tiny config: agreement of nf4 / fp4 / int8 / int4
    with full precision (logits cosine, next-token agreement, top-1 and top-k expert agreement per layer).

Prints markdown tables and writes bench/results/quant.json.

    .venv/bin/python bench/bench_quant.py                 # cuda if available, else cpu
    .venv/bin/python bench/bench_quant.py --device cpu --threads 2 --layers 16 --runs 3
    .venv/bin/python bench/bench_quant.py --device cpu --quantization int4 --tokens 64   # speed vs fp32: bench_quant_speed.py
    .venv/bin/python bench/bench_quant.py --device cpu --quantization int4 --lm-head --layers 16 --threads 1   # memory with the lm_head in int8
"""
from __future__ import annotations
import argparse, copy, gc, json, platform, resource, statistics, time
from pathlib import Path
import torch
from transformers import OlmoeConfig, OlmoeForCausalLM
from perft_viz.core import TINY_OLMOE_DIR, atomic_write
from perft_viz.quant import QUANT_TYPES, QuantizedExperts, agreement, model_memory, quantize_linear, quantize_model

GB = 2**30
OUT = Path(__file__).resolve().parent/"results"/"quant.json"

def peak_rss_gb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB  # ru_maxrss is KiB on Linux

def rss_gb() -> float:
    with open("/proc/self/statm") as f: return int(f.read().split()[1]) * resource.getpagesize() / GB

def sync(device):
    if device.startswith("cuda"): torch.cuda.synchronize()

def median_time(fn, device, runs:int) -> float:
    "Median wall time of `runs` calls after one warm-up call."
    fn(); sync(device)
    ts = []
    for _ in range(runs):
        t = time.perf_counter(); fn(); sync(device); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

def materialize(module, device, std):
    "Allocate a meta module's tensors on `device` (keeping their dtype) and fill them like a fresh model."
    module.to_empty(device=device)
    with torch.no_grad():
        for n, p in module.named_parameters(): p.fill_(1.0) if "norm" in n else p.normal_(0.0, std)

def build_quantized(config, quantization, device, dtype=torch.bfloat16, lm_head=False):
    "Build `config` layer by layer, quantizing each decoder layer as soon as it exists."
    with torch.device("meta"): model = OlmoeForCausalLM(config)
    model.to(dtype)                                                  # free on meta: sets the storage dtype
    ref, ref_layers = model_memory(model), model_memory(model.model.layers)   # bytes the bf16 model would hold
    n_params = sum(p.numel() for p in model.parameters())
    for layer in model.model.layers:
        materialize(layer, device, config.initializer_range)
        quantize_model(layer, quantization)
        gc.collect()
    for m in (model.model.embed_tokens, model.model.norm, model.lm_head): materialize(m, device, config.initializer_range)
    if lm_head:   # what quantize_model(lm_head=True) does to it (the layers here are quantized one by one, so it is called per layer)
        model.lm_head = quantize_linear(model.lm_head, quantization, blocksize=64); gc.collect()
    model.model.rotary_emb = type(model.model.rotary_emb)(config).to(device)
    setattr(model, "is_loaded_in_8bit" if quantization == "int8" else "is_loaded_in_4bit", True)
    return model.eval(), ref, ref_layers, n_params

def hits_per_layer(model, input_ids) -> list[int]:
    "Distinct experts routed to per layer (what QuantizedExperts dequantizes) in one forward."
    hits, hooks = [], [m.register_forward_hook(lambda mod, i, o: hits.append(int(torch.unique(o[2]).numel())))
                       for n, m in model.named_modules() if n.endswith("mlp.gate")]
    with torch.inference_mode(): model(input_ids)
    for h in hooks: h.remove()
    return hits

def full_size(args) -> dict:
    # OLMoE-1B-7B: OlmoeConfig() defaults except the expert width (transformers' default intermediate_size is 2048;
    # allenai/OLMoE-1B-7B-0924 uses 1024, which gives its 6.9B parameters)
    config = OlmoeConfig(intermediate_size=1024, num_hidden_layers=args.layers)
    rss0, t0 = rss_gb(), time.perf_counter()
    model, ref, ref_layers, n_params = build_quantized(config, args.quantization, args.device, lm_head=args.lm_head)
    build_s, rss_built = time.perf_counter() - t0, rss_gb()
    mem, mem_layers = model_memory(model), model_memory(model.model.layers)
    # transformers' stock bnb path quantizes nn.Linear only: attention would shrink as here, experts would not
    stock = ref.total - ref.attention + mem.attention
    g = torch.Generator().manual_seed(0)
    prompt = torch.randint(0, config.vocab_size, (1, args.tokens), generator=g).to(args.device)
    one = prompt[:, :1]
    fwd = lambda ids: (lambda: model(ids, use_cache=False))
    with torch.inference_mode():
        t_prompt = median_time(fwd(prompt), args.device, args.runs)
        t_one = median_time(fwd(one), args.device, args.runs)
    hits_prompt, hits_one = hits_per_layer(model, prompt), hits_per_layer(model, one)
    # one layer: dequantize the experts one token hits (top-k) vs every expert (what a whole-tensor dequant pays)
    qe = model.model.layers[0].mlp.experts
    assert isinstance(qe, QuantizedExperts)
    k, E = config.num_experts_per_tok, config.num_experts
    sel = torch.arange(k, device=args.device)
    deq = lambda idx: (lambda: (qe.dequantize("gate_up_proj", idx, torch.bfloat16), qe.dequantize("down_proj", idx, torch.bfloat16)))
    t_deq_k, t_deq_all = median_time(deq(sel), args.device, args.runs), median_time(deq(None), args.device, args.runs)
    return dict(config=dict(layers=config.num_hidden_layers, hidden=config.hidden_size, experts=E, top_k=k,
                            intermediate=config.intermediate_size, vocab=config.vocab_size, params=n_params),
                quantization=args.quantization, lm_head_quantized=args.lm_head,
                bf16_bytes=ref._asdict(), quantized_bytes=mem._asdict(),
                ratio_total=mem.total / ref.total, ratio_decoder_layers=mem_layers.total / ref_layers.total,
                ratio_experts=mem.experts / ref.experts, ratio_attention=mem.attention / ref.attention,
                ratio_stock_linear_only=stock / ref.total,
                build_s=build_s, rss_before_gb=rss0, rss_built_gb=rss_built, peak_rss_gb=peak_rss_gb(),
                prompt_tokens=args.tokens, prompt_forward_s=t_prompt, prompt_tokens_per_s=args.tokens / t_prompt,
                one_token_forward_s=t_one, experts_hit_prompt=hits_prompt, experts_hit_one_token=hits_one,
                dequant_layer_topk_s=t_deq_k, dequant_layer_all_s=t_deq_all)

def tiny_models():
    "TinyOLMoE in fp32 (with its tokenizer) if it has been built, else a random tiny OLMoE."
    if (TINY_OLMOE_DIR/"config.json").exists():
        from transformers import AutoTokenizer
        model = OlmoeForCausalLM.from_pretrained(TINY_OLMOE_DIR, dtype=torch.float32).eval()
        try: tok = AutoTokenizer.from_pretrained(TINY_OLMOE_DIR)
        except Exception: tok = None
        return model, tok, f"TinyOLMoE ({TINY_OLMOE_DIR.name})"
    torch.manual_seed(0)
    cfg = OlmoeConfig(vocab_size=1024, hidden_size=256, intermediate_size=256, num_hidden_layers=4, num_attention_heads=4,
                      num_key_value_heads=4, num_experts=16, num_experts_per_tok=4, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return OlmoeForCausalLM(cfg).eval(), None, "random tiny OLMoE (TinyOLMoE not built yet)"

TEXT = ("The quick brown fox jumps over the lazy dog. Mixture-of-experts models route every token to a few experts. "
        "Once upon a time there was a little robot who loved to read books about the sea and the stars. "
        "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5\n")

def tiny_agreement(args) -> dict:
    model, tok, name = tiny_models()
    if tok is not None:
        ids = tok(TEXT, return_tensors="pt").input_ids[:, :args.tiny_tokens]
    else:
        ids = torch.randint(3, model.config.vocab_size, (4, args.tiny_tokens), generator=torch.Generator().manual_seed(0))
    full = model_memory(model)
    rows = {}
    for q, dq, lm in (("nf4", True, False), ("nf4", False, False), ("fp4", True, False), ("int8", True, False), ("int4", True, False), ("int4", True, True)):
        qm = quantize_model(copy.deepcopy(model), q, double_quant=dq, lm_head=lm)
        ag, mem = agreement(model, qm, ids), model_memory(qm)
        label = q + ("" if dq else " (no double quant)") + (" (groups of 64, PyTorch's CPU kernel)" if q == "int4" else "") + (" + lm_head int8" if lm else "")
        rows[label] = dict(ag, experts_vs_bf16=mem.experts / (full.experts / 2), total_vs_bf16=mem.total / (full.total / 2))
        del qm; gc.collect()
    return dict(model=name, tokens=int(ids.numel()), results=rows)

def report(res):
    f = res.get("full")
    if f:
        c = f["config"]
        print(f"\n### (a) OLMoE-1B-7B shape ({c['layers']} layers, hidden {c['hidden']}, {c['experts']} experts top-{c['top_k']}, expert width {c['intermediate']}), "
              f"random weights, {f['quantization']}{' + lm_head' if f.get('lm_head_quantized') else ''}, device {res['device']}, {res['threads']} threads\n")
        print("| measure | value |\n|---|---|")
        for k, v in [("parameters (B)", c["params"] / 1e9), ("bf16 size (GB)", f["bf16_bytes"]["total"] / GB), ("quantized size (GB)", f["quantized_bytes"]["total"] / GB),
                     ("quantized / bf16, whole model", f["ratio_total"]), ("quantized / bf16, decoder layers", f["ratio_decoder_layers"]),
                     ("quantized / bf16, experts", f["ratio_experts"]), ("quantized / bf16, attention", f["ratio_attention"]),
                     ("stock bnb (nn.Linear only) / bf16, whole model", f["ratio_stock_linear_only"]),
                     ("build + quantize time (s)", f["build_s"]), ("RSS after build (GB)", f["rss_built_gb"]),
                     ("peak RSS (GB)", f["peak_rss_gb"]),
                     (f"forward 1x{f['prompt_tokens']} (s, median)", f["prompt_forward_s"]),
                     (f"forward 1x{f['prompt_tokens']} (tokens/s)", f["prompt_tokens_per_s"]),
                     ("forward 1x1 (s, median)", f["one_token_forward_s"]),
                     (f"experts hit per layer, 1x{f['prompt_tokens']} (mean of {c['experts']})", statistics.mean(f["experts_hit_prompt"])),
                     ("experts hit per layer, 1x1", statistics.mean(f["experts_hit_one_token"])),
                     (f"dequantize {c['top_k']} experts of one layer (ms)", 1e3 * f["dequant_layer_topk_s"]),
                     (f"dequantize all {c['experts']} experts of one layer (ms)", 1e3 * f["dequant_layer_all_s"])]:
            print(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
    t = res["tiny"]
    print(f"\n### (b) agreement with full precision: {t['model']}, {t['tokens']} tokens\n")
    print("| quantization | experts / bf16 | total / bf16 | logits cosine | next-token agree | top-1 expert agree per layer | top-k overlap (mean) |")
    print("|---|---|---|---|---|---|---|")
    for q, r in t["results"].items():
        top1 = ", ".join(f"{x:.2f}" for x in r["top1_per_layer"])
        print(f"| {q} | {r['experts_vs_bf16']:.3f} | {r['total_vs_bf16']:.3f} | {r['logits_cos']:.4f} | {r['next_token']:.3f} | "
              f"{top1} | {statistics.mean(r['topk_overlap_per_layer']):.3f} |")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--quantization", default="nf4", choices=QUANT_TYPES)
    ap.add_argument("--lm-head", action="store_true", help="int4 only: quantize the lm_head too, to int8 (quantize_model(lm_head=True))")
    ap.add_argument("--layers", type=int, default=16, help="decoder layers of the full-size model (OLMoE-1B-7B has 16)")
    ap.add_argument("--tokens", type=int, default=32, help="prompt length of the timed forward")
    ap.add_argument("--runs", type=int, default=3, help="timed runs (median) after one warm-up")
    ap.add_argument("--tiny-tokens", type=int, default=128)
    ap.add_argument("--skip-full", action="store_true", help="only part (b)")
    ap.add_argument("--out", default=str(OUT), help="where to write the JSON results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = dict(device=args.device, threads=args.threads, torch=torch.__version__, python=platform.python_version())
    import bitsandbytes, transformers
    res.update(bitsandbytes=bitsandbytes.__version__, transformers=transformers.__version__)
    if not args.skip_full: res["full"] = full_size(args); gc.collect()
    res["tiny"] = tiny_agreement(args)
    report(res)
    with atomic_write(Path(args.out), "w") as fh: json.dump(res, fh, indent=1)
    print(f"\nwrote {args.out}")

if __name__ == "__main__":
    main()
