"""Training throughput: PERFT-R Top2/8 r=8 vs peft LoRA q,v r=8 on the same model, data and batches, and the
cost of live metric streaming (per-step routing metrics + a queue drained by another thread).

Each configuration trains with `perft_viz.train.train_adapter` (the real Trainer path) for `--steps` steps; a
callback times every optimizer step and the collator counts the (non-padding) tokens of every batch. The data
order is seeded, so every configuration sees the same batches. Rounds are interleaved and the median over rounds
is reported. Peak RSS is sampled during each configuration. Prints a markdown table, writes
bench/results/bench_train.json.

    python bench/bench_train.py [--steps 40] [--rounds 3] [--threads 1] [--model DIR]
"""
import argparse, json, platform, queue, resource, statistics, tempfile, threading, time
from unittest import mock
from pathlib import Path
import torch
from peft import get_peft_model
from transformers import TrainerCallback

from perft_viz.core import TINY_OLMOE_DIR
from perft_viz.model import load_model, random_olmoe, toy_tokenizer
from perft_viz.tasks import make_suite
from perft_viz import train as T
from perft_viz.adapters import adapter_config
from perft_viz.callbacks import QueueCallback
from perft_viz.collate import Collator

OUT = Path(__file__).resolve().parent / "results"


class StepTimer(TrainerCallback):
    "Wall time of every optimizer step."
    def __init__(self): self.times, self.t = [], None
    def on_step_begin(self, args, state, control, **kw): self.t = time.perf_counter()
    def on_step_end(self, args, state, control, **kw): self.times.append(time.perf_counter() - self.t)


class CountingCollator(Collator):
    "The trainer's collator, counting the real tokens of every batch it builds."
    def __init__(self, pad_id): super().__init__(pad_id); self.tokens = []
    def __call__(self, feats):
        b = super().__call__(feats); self.tokens.append(int(b["attention_mask"].sum())); return b


class RssSampler:
    "Peak resident set size of this process while the `with` block runs (sampled every 10 ms)."
    def __enter__(self):
        self.peak, self.stop = 0, threading.Event()
        def loop():
            while not self.stop.is_set():
                self.peak = max(self.peak, _rss()); time.sleep(0.01)
        self.th = threading.Thread(target=loop, daemon=True); self.th.start(); return self
    def __exit__(self, *a): self.stop.set(); self.th.join()


def _rss() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1]) * 1024
    return 0


def measure(base_model, tok, data, variant, stream, steps, warm, batch_size):
    "Train `steps` steps of one configuration; returns tokens/s over the steps after `warm` and the peak RSS."
    cfg = adapter_config("R", 8, 2, rank=8) if variant == "perft-r" else adapter_config("lora-qv", rank=8)
    torch.manual_seed(0)
    model = get_peft_model(base_model, cfg)
    timer, q, done = StepTimer(), queue.Queue(), threading.Event()
    callbacks = [timer]
    if stream:   # what the app does: a QueueCallback, drained by another thread
        callbacks.append(QueueCallback(q))
        def drain():
            while not (done.is_set() and q.empty()):
                try: q.get(timeout=0.05)
                except queue.Empty: pass
        threading.Thread(target=drain, daemon=True).start()
    collator = CountingCollator(tok.pad_token_id)
    # train_adapter builds its collator by name: hand it the counting one
    with mock.patch.object(T, "Collator", lambda pad_id: collator), tempfile.TemporaryDirectory() as out:
        try:
            with RssSampler() as rss:
                T.train_adapter(model, tok, data, output_dir=out, max_steps=steps, batch_size=batch_size, lr=1e-3,
                                template="short", progress=False, track_routing=stream, logging_steps=1 if stream else 10**6,
                                save_total_limit=1, callbacks=callbacks)
        finally: done.set()
    tokens, times = collator.tokens[warm:steps], timer.times[warm:steps]
    return dict(tokens_per_s=sum(tokens) / sum(times), step_ms=1000 * statistics.median(times), peak_rss=rss.peak)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warm", type=int, default=5, help="steps left out of the timing")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--model", default=None, help="default: the shipped TinyOLMoE")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    data = make_suite(a.steps * a.batch_size // 4 + 16, seed=0)
    configs = [("lora-qv", True), ("perft-r", True), ("lora-qv", False), ("perft-r", False)]
    results = {c: [] for c in configs}
    for rnd in range(a.rounds):
        for c in (configs if rnd % 2 == 0 else configs[::-1]):
            # a fresh base model each time: LoRA's unload and PERFT's injection leave nothing behind
            base, tok, _ = load_model(a.model) if (a.model or (TINY_OLMOE_DIR / "config.json").exists()) else (random_olmoe(), toy_tokenizer(), None)
            results[c].append(measure(base, tok, data, *c, a.steps, a.warm, a.batch_size))
            print(f"round {rnd} {c}: {results[c][-1]}", flush=True)
    med = {c: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for c, rs in results.items()}
    ratio = med[("perft-r", True)]["tokens_per_s"] / med[("lora-qv", True)]["tokens_per_s"]
    ratio_off = med[("perft-r", False)]["tokens_per_s"] / med[("lora-qv", False)]["tokens_per_s"]
    stream_cost = {v: med[(v, True)]["step_ms"] / med[(v, False)]["step_ms"] - 1 for v in ("lora-qv", "perft-r")}
    names = {"lora-qv": "peft LoRA q,v r=8", "perft-r": "PERFT-R Top2/8 r=8"}
    lines = ["| adapter | streaming | tokens/s | median step (ms) | peak RSS (MiB) |", "|---|---|---:|---:|---:|"]
    for (v, s), m in med.items():
        lines.append(f"| {names[v]} | {'on' if s else 'off'} | {m['tokens_per_s']:.0f} | {m['step_ms']:.1f} | {m['peak_rss'] / 2**20:.0f} |")
    lines += ["", f"PERFT-R / LoRA q,v tokens/s: {ratio:.3f} (streaming on), {ratio_off:.3f} (off); target >= 0.9",
              f"streaming cost (step time on/off - 1): LoRA q,v {100 * stream_cost['lora-qv']:+.1f}%, "
              f"PERFT-R {100 * stream_cost['perft-r']:+.1f}%; target <= 5%",
              f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"]
    print("\n".join(lines))
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_train.json").write_text(json.dumps(dict(
        settings=vars(a), machine=dict(python=platform.python_version(), torch=torch.__version__, cpus=torch.get_num_threads()),
        median={f"{v}/{'stream' if s else 'nostream'}": m for (v, s), m in med.items()},
        rounds={f"{v}/{'stream' if s else 'nostream'}": rs for (v, s), rs in results.items()},
        perft_over_lora=ratio, perft_over_lora_nostream=ratio_off, streaming_cost=stream_cost,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024), indent=1))


if __name__ == "__main__":
    main()
