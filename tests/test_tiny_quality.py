"""The shipped TinyOLMoE passes its quality gates (recomputed from the weights), and `pretrain_main --quick` writes a loadable checkpoint.

Run: .venv/bin/pytest -s tests/test_tiny_quality.py   (about a minute on 2 cores)"""
import json, subprocess, sys
import pytest, torch
from transformers import AutoTokenizer, OlmoeForCausalLM
from perft_viz.core import TINY_OLMOE_DIR
from perft_viz.corpus import corpus_splits
from perft_viz.model import load_model
from perft_viz.tiny import tiny_quality


@pytest.fixture(scope="module")
def card():
    return json.loads((TINY_OLMOE_DIR / "tiny_olmoe_card.json").read_text())


def test_shipped_tiny_quality_gates(card):
    torch.set_num_threads(1)
    lm = load_model()   # the default: assets/tiny-olmoe
    c = card["corpus"]
    sp = corpus_splits(c["n_train"], c["n_heldout"], seed=c["seed"])
    q = tiny_quality(lm.model, lm.tokenizer, sp["heldout"], sp["train"]["text"])
    print(f"\nheld-out LM loss {q.lm_loss:.4f} vs unigram baseline {q.unigram_loss:.4f} (ratio {q.loss_ratio:.3f}); "
          f"specialised layers {q.spec_layers}/{len(q.spec_max)} {q.spec_max}; min expert load {q.min_load:.4f}")
    E, k = lm.model.config.num_experts, lm.model.config.num_experts_per_tok
    assert q.lm_loss <= 0.7 * q.unigram_loss
    assert q.spec_layers >= len(q.spec_max) / 2 and sum(s >= 2 * k / E for s in q.spec_max) == q.spec_layers
    assert q.min_load >= 0.01
    assert q.passed
    # the card tells the truth about the shipped weights
    assert abs(q.lm_loss - card["quality"]["lm_loss"]) < 1e-3 and abs(q.unigram_loss - card["quality"]["unigram_loss"]) < 1e-3
    assert card["quality"]["passed"]


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
    assert card["steps"] == 6 and set(card["quality"]) >= {"lm_loss", "unigram_loss", "spec_layers", "min_load", "passed"}
    assert load_model(out).model.config.num_experts == card["config"]["num_experts"]
