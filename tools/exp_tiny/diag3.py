import sys, json, torch
sys.path.insert(0, "/tmp/exp")
torch.set_num_threads(1)
from perft_viz.tiny import domain_ablation, heldout_lm_loss
from perft_viz.analysis import routing_on_texts, domain_specialisation, experts_zeroed, ablation_ratio
from perft_viz.corpus import corpus_splits
from transformers import OlmoeForCausalLM, AutoTokenizer
torch.set_printoptions(precision=3, sci_mode=False, linewidth=200)
for d in sys.argv[1:]:
    m = OlmoeForCausalLM.from_pretrained(d).eval(); tok = AutoTokenizer.from_pretrained(d)
    seed = json.load(open(f"{d}/tiny_olmoe_card.json"))["seed"]
    sp = corpus_splits(60000, 600, seed=seed)["heldout"]
    texts, doms = list(sp["text"]), list(sp["domain"])
    tr = routing_on_texts(m, tok, texts, batch_size=32)
    keep = tr.token_ids != tok.bos_token_id
    E = m.config.num_experts
    spec = domain_specialisation(tr.topk_index, tr.labels(doms), E, mask=keep).spec   # [L, D, E]
    names = sorted(set(doms)); by = [[t for t, x in zip(texts, doms) if x == n] for n in names]
    loss = lambda: torch.tensor([heldout_lm_loss(m, tok, ts, 32)[0] for ts in by])
    base = loss()
    D = spec.shape[1]
    others = (spec.sum(1, keepdim=True) - spec) / (D - 1)
    for label, score in [("most used", spec), ("most specific (share - others' mean share)", spec - others)]:
        ex = score.topk(2, dim=-1).indices.transpose(0, 1)
        rows = []
        for e in ex:
            with experts_zeroed(m, e): rows.append(loss() - base)
        rise = torch.stack(rows)
        print(d, label, "ratio", ablation_ratio(rise), "own", rise.diagonal(), flush=True)
