import sys, torch, collections
sys.path.insert(0, "/tmp/exp")
torch.set_num_threads(2)
from perft_viz.analysis import routing_on_texts, domain_specialisation
from perft_viz.corpus import corpus_splits
from transformers import OlmoeForCausalLM, AutoTokenizer
d = sys.argv[1]; D = sys.argv[2]
m = OlmoeForCausalLM.from_pretrained(d).eval(); tok = AutoTokenizer.from_pretrained(d)
sp = corpus_splits(60000, 600, seed=0)["heldout"]
texts, doms = list(sp["text"]), list(sp["domain"])
tr = routing_on_texts(m, tok, texts, batch_size=32)
keep = tr.token_ids != tok.bos_token_id
labels = tr.labels(doms)
E = m.config.num_experts
spec = domain_specialisation(tr.topk_index, labels, E, mask=keep).spec  # [L, D, E]
names = sorted(set(doms)); di = names.index(D)
top = spec[:, di].topk(2, -1).indices
torch.set_printoptions(precision=2, sci_mode=False, linewidth=200)
for l in range(spec.shape[0]):
    print(f"layer {l} {D} top {top[l].tolist()}: shares of each domain ->", {n: round(float(spec[l, j, top[l]].sum()), 3) for j, n in enumerate(names)})
    # which tokens of D go to those experts
    c = collections.Counter()
    for t in range(len(labels)):
        if labels[t] == D and keep[t] and any(e in top[l].tolist() for e in tr.topk_index[l, t].tolist()): c[tok.convert_ids_to_tokens(int(tr.token_ids[t]))] += 1
    print("   ", c.most_common(12))
