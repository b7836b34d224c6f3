"""The shipped TinyOLMoE passes its quality gates (recomputed from the weights) and a random-init model of the same shape fails every one of them; `pretrain_main --quick` writes a loadable checkpoint.

Run: .venv/bin/pytest -s tests/test_tiny_quality.py   (about three minutes on 2 cores)"""
import json, subprocess, sys
import pytest, torch
from transformers import AutoTokenizer, OlmoeForCausalLM
from perft_viz.core import TINY_OLMOE_DIR
from perft_viz.corpus import corpus_splits, DOMAINS
from perft_viz.model import load_model
from perft_viz.tiny import quality_vs_chance, quality_table


@pytest.fixture(scope="module")
def card():
    return json.loads((TINY_OLMOE_DIR / "tiny_olmoe_card.json").read_text())


@pytest.fixture(scope="module")
def quality(card):
    torch.set_num_threads(1)
    lm = load_model()   # the default: assets/tiny-olmoe
    c = card["corpus"]
    sp = corpus_splits(c["n_train"], c["n_heldout"], seed=c["seed"])
    qc = quality_vs_chance(lm.model, lm.tokenizer, sp["heldout"], sp["train"]["text"], seed=card["seed"])
    print("\n" + quality_table(qc))
    return qc


def test_shipped_tiny_passes_every_gate(quality):
    q = quality.trained
    assert q.lm_loss <= 0.7 * q.unigram_loss                            # 1. learned the language
    assert set(q.ablation) == set(DOMAINS)
    assert all(r >= 3 for r in q.ablation.values()), q.ablation        # 2. every domain has experts of its own, causally
    assert all(r >= 0.05 for r in q.ablation_rise.values()), q.ablation_rise   # ... and zeroing them costs real loss
    assert q.min_load >= 0.01                                          # 3. no dead experts
    assert q.passed


def test_card_records_the_routing_warmup(card):
    groups = card["expert_groups"]
    assert card["route_warmup"] > 0 and 0 < card["route_warmup_frac"] < 1    # the second half of training routes freely
    assert set(groups) == set(DOMAINS) and all(len(g) >= 2 for g in groups.values())
    assert sorted(e for g in groups.values() for e in g) == list(range(card["config"]["num_experts"]))   # every expert in one group


def test_random_init_fails_every_gate(quality):
    r = quality.random_init
    assert r.lm_loss > 0.7 * r.unigram_loss
    assert all(0.5 < v < 2 for v in r.ablation.values()), r.ablation   # about 1x: its experts hold nothing of their own
    assert r.min_load < 0.01
    assert not r.passed
    # what random weights do not fake: the trained router is more confident on every layer
    assert all(t > x for t, x in zip(quality.trained.confidence, r.confidence))


def test_card_tells_the_truth(card, quality):
    q, r = quality
    assert abs(q.lm_loss - card["quality"]["lm_loss"]) < 1e-3 and abs(q.unigram_loss - card["quality"]["unigram_loss"]) < 1e-3
    assert all(abs(q.ablation[d] - card["quality"]["ablation"][d]) < 0.05 * q.ablation[d] for d in DOMAINS)
    assert card["quality"]["passed"] == q.passed and not card["quality_random_init"]["passed"]
    assert abs(r.lm_loss - card["quality_random_init"]["lm_loss"]) < 1e-3


def test_shipped_tiny_size_and_format(card):
    files = {f.name: f.stat().st_size for f in TINY_OLMOE_DIR.iterdir()}
    assert "model.safetensors" in files and "tokenizer.json" in files and "config.json" in files
    assert sum(files.values()) <= 25 * 2**20
    tok = AutoTokenizer.from_pretrained(TINY_OLMOE_DIR)
    assert (tok.pad_token, tok.bos_token, tok.eos_token, tok.unk_token) == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert len(tok) == card["config"]["vocab_size"]


def test_pretrain_main_quick_smoke(tmp_path):
    out = tmp_path / "tiny"
    code = f"from perft_viz.tiny import pretrain_main; pretrain_main(['--out', {str(out)!r}, '--quick'])"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "wrote" in r.stdout
    tok = AutoTokenizer.from_pretrained(out)
    model = OlmoeForCausalLM.from_pretrained(out)
    ids = tok("12 + 7 = 19", return_tensors="pt").input_ids
    assert ids[0, 0].item() == tok.bos_token_id
    assert model(ids).logits.shape == (1, ids.shape[1], len(tok))
    card = json.loads((out / "tiny_olmoe_card.json").read_text())
    assert card["steps"] == 6 and set(card["quality"]) >= {"lm_loss", "unigram_loss", "ablation", "min_load", "confidence", "passed"}
    assert set(card["quality_random_init"]) == set(card["quality"])
    assert load_model(out).model.config.num_experts == card["config"]["num_experts"]
