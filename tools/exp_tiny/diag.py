import sys, json, torch
sys.path.insert(0, "/tmp/exp")
torch.set_num_threads(1)
from perft_viz.tiny import domain_ablation
from perft_viz.analysis import routing_on_texts, domain_specialisation
from perft_viz.corpus import corpus_splits
from transformers import OlmoeForCausalLM, AutoTokenizer
d = sys.argv[1]
m = OlmoeForCausalLM.from_pretrained(d).eval(); tok = AutoTokenizer.from_pretrained(d)
sp = corpus_splits(60000, 600, seed=0)["heldout"]
texts, doms = list(sp["text"]), list(sp["domain"])
tr = routing_on_texts(m, tok, texts, batch_size=32)
keep = tr.token_ids != tok.bos_token_id
E = m.config.num_experts
spec = domain_specialisation(tr.topk_index, tr.labels(doms), E, mask=keep).spec
abl = domain_ablation(m, tok, texts, doms, spec)
torch.set_printoptions(precision=3, sci_mode=False, linewidth=200)
print(abl.domains); print("base", abl.base); print("rise (row ablated, col measured)\n", abl.rise); print("ratio", abl.ratio)
print("experts", abl.experts.tolist())
print("spec top-2 share per layer/domain", spec.topk(2,-1).values.sum(-1))
