# pretrain_tiny + a DEMix/BTX-style router warm-up: for the first `warm_frac` of steps a loss pulls each domain's tokens
# towards its own group of experts (weight decays linearly to 0); afterwards routing is free.
import sys, json, time, math, torch
import torch.nn.functional as F
sys.path.insert(0, "/tmp/exp")
torch.set_num_threads(1)
name, kw = sys.argv[1], json.loads(sys.argv[2])
import corpus_v3; corpus_v3.install()
import perft_viz.tiny as T
from perft_viz.core import set_seed
from perft_viz.corpus import corpus_splits
from transformers import OlmoeForCausalLM
seed, steps, lr = kw.get("seed", 0), kw.get("steps", 1000), kw.get("lr", 3e-3)
w0, warm_frac, per = kw.get("w0", 1.0), kw.get("warm_frac", 0.5), kw.get("per_domain", 2)
layers_sup = kw.get("layers", None)
aux_coef, z_coef, bs, seq_len = kw.get("aux_coef", 0.02), 0.001, 8, 256
t0 = time.time(); set_seed(seed)
sp = corpus_splits(60000, 600, seed=seed)
tok = T.train_tokenizer(sp["train"]["text"], 1024)
doms = sorted(set(sp["train"]["domain"]))
enc = tok(list(sp["train"]["text"])).input_ids
ids, lab = [], []
for e, d in zip(enc, sp["train"]["domain"]):
    ids += e + [tok.eos_token_id]; lab += [-1] + [doms.index(d)] * len(e)
n = len(ids) // seq_len
data, labels = torch.tensor(ids[:n*seq_len]).view(n, seq_len), torch.tensor(lab[:n*seq_len]).view(n, seq_len)
model = OlmoeForCausalLM(T.tiny_olmoe_config(len(tok), **kw.get("config", {})))
E = model.config.num_experts
G = torch.zeros(len(doms), E, dtype=torch.bool)
if kw.get("groups") == "share":
    share = torch.bincount(labels[labels >= 0].flatten(), minlength=len(doms)).float(); share = share / share.sum()
    raw = share * E; sizes = raw.floor().clamp_min(2)
    rem = (raw - raw.floor()).masked_fill(raw.floor() < 2, -1.0)
    for i in rem.argsort(descending=True).tolist()[: int(E - sizes.sum())]: sizes[i] += 1
    print("group sizes", sizes.tolist(), flush=True)
    ends = sizes.long().cumsum(0).tolist()
    for i, (a, b) in enumerate(zip([0] + ends[:-1], ends)): G[i, a:b] = True
else:
    for i in range(len(doms)): G[i, i*per:(i+1)*per] = True
opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
warm = max(1, min(100, steps // 10))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1, s / steps)))))
g = torch.Generator().manual_seed(seed)
order = torch.cat([torch.randperm(len(data), generator=g) for _ in range(steps * bs // len(data) + 1)])
model.train()
for step in range(steps):
    rows = order[step*bs:(step+1)*bs]
    x, y = data[rows], labels[rows].flatten()
    out = model(input_ids=x, output_router_logits=True)
    lm = F.cross_entropy(out.logits[:, :-1].flatten(0, 1).float(), x[:, 1:].flatten())
    logits = torch.stack(out.router_logits).float()
    k = model.config.num_experts_per_tok
    lb = T.expert_load(logits.topk(k, dim=-1).indices, logits.softmax(-1)).lb.mean()
    z = logits.logsumexp(-1).pow(2).mean()
    w = w0 * max(0.0, 1 - step / (warm_frac * steps))
    loss = lm + aux_coef * lb + z_coef * z
    if w > 0:
        keep = y >= 0
        lp = logits.log_softmax(-1)[:, keep]                                   # [L, n, E]
        if layers_sup is not None: lp = lp[layers_sup]
        own = lp.masked_fill(~G[y[keep]][None], float("-inf")).logsumexp(-1)    # log mass on own group
        loss = loss + w * (-own.mean())
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
    if step % 100 == 0: print(step, round(lm.item(), 3), round(lb.item(), 3), round(w, 3), flush=True)
model.eval(); train_s = time.time() - t0
qc = T.quality_vs_chance(model, tok, sp["heldout"], sp["train"]["text"], seed=seed)
model.save_pretrained(f"/tmp/exp/{name}"); tok.save_pretrained(f"/tmp/exp/{name}")
json.dump(dict(seed=seed), open(f"/tmp/exp/{name}/tiny_olmoe_card.json", "w"))
q = qc.trained
out = dict(name=name, kw=kw, train_s=train_s, q=dict(lm_loss=q.lm_loss, ablation=q.ablation, ablation_rise=q.ablation_rise, min_load=q.min_load,
           confidence=q.confidence, spread=q.spread, spread_same_word=q.spread_same_word, passed=q.passed), rand_ablation=qc.random_init.ablation)
print(json.dumps(out, indent=1)); json.dump(out, open(f"/tmp/exp/{name}.json", "w"), indent=1)
