import sys, json, time, torch
sys.path.insert(0, "/tmp/exp")
torch.set_num_threads(1)
name, kw = sys.argv[1], json.loads(sys.argv[2])
corpus = "v3"   # perft_viz.corpus; routing left to emerge unless kw sets route_warmup (pretrain_tiny's default is 1.0)
kw.setdefault("route_warmup", 0.0)
from perft_viz.tiny import pretrain_tiny
import perft_viz.tiny as T
router_mult = kw.pop("router_lr_mult", None)
if router_mult:
    _AdamW = torch.optim.AdamW
    class GroupedAdamW(_AdamW):
        def __init__(self, params, lr, **k):
            params = list(params)
            gates = [p for p in params if p.dim() == 2 and p.shape[0] in (8, 16, 32) and p.shape[1] == 128]
            print("router params", len(gates), flush=True)
            ids = {id(p) for p in gates}
            super().__init__([dict(params=[p for p in params if id(p) not in ids]), dict(params=gates, lr=lr * router_mult)], lr=lr, **k)
    T.torch.optim.AdamW = GroupedAdamW
import perft_viz.corpus as C
if kw.pop("pack", None) == "domain":
    sp0 = C.corpus_splits(kw.get("n_train", 60000), kw.get("n_heldout", 600), seed=kw.get("seed", 0))
    dom_of = dict(zip(sp0["train"]["text"], sp0["train"]["domain"]))
    _pack = T.pack_tokens
    def pack_by_domain(tok, texts, seq_len=256):
        rows = [_pack(tok, [t for t in texts if dom_of[t] == d], seq_len) for d in sorted(set(dom_of.values()))]
        print("rows per domain", [len(r) for r in rows], flush=True)
        return torch.cat(rows)
    T.pack_tokens = pack_by_domain
print(C.make_corpus(6, seed=1)["text"], flush=True)
r = pretrain_tiny(f"/tmp/exp/{name}", progress=False, **kw)
c = r.card
out = dict(name=name, kw=kw, corpus=corpus, train_s=c["train_time_s"], q={k: c["quality"][k] for k in ("lm_loss", "unigram_loss", "ablation", "ablation_rise", "domain_loss", "min_load", "confidence")},
           rand_ablation=c["quality_random_init"]["ablation"], final=c["final_train"])
print(json.dumps(out, indent=1))
json.dump(out, open(f"/tmp/exp/{name}.json", "w"), indent=1)
