"""PERFT on a 4-bit base, on both of bitsandbytes' CPU paths and on int4: adapters get gradients that do not depend on
what the model ran before, the base stays frozen and unchanged, and a saved adapter loads back exactly."""
import copy, os, tempfile
from unittest import mock
import pytest
import torch
from peft import PeftModel, get_peft_model
from perft_viz.model import random_olmoe, toy_config
from perft_viz.perft.config import PerftConfig
import perft_viz.perft  # noqa: F401  (registers PERFT with peft)
from perft_viz.quant import PACKED_ENV, GradSafeLinear4bit, Int8Linear, quantize_model

torch.set_num_threads(1)
# hidden 64: the attention projections fit bitsandbytes' packed CPU layout (the default toy_config's 32 does not)
CONFIG = toy_config(hidden_size=64, intermediate_size=64)
IDS = torch.randint(3, 128, (2, 12), generator=torch.Generator().manual_seed(0))
CASES = [("nf4", "0"), ("nf4", "1"), ("int4", "0"), ("int4+lm_head", "0")]   # int4+lm_head: quantize_model(..., lm_head=True)


def quantized(quantization, packed):
    q, lm_head = quantization.split("+")[0], quantization.endswith("+lm_head")
    with mock.patch.dict(os.environ, {PACKED_ENV: packed}): model = quantize_model(random_olmoe(CONFIG), q, lm_head=lm_head)
    assert isinstance(model.lm_head, Int8Linear) == lm_head   # the int4 model's lm_head is int8
    return model


def adapted(quantization, packed):
    torch.manual_seed(1)
    return get_peft_model(quantized(quantization, packed), PerftConfig(variant="S", r=4))


def adapter_grads(model, eval_first):
    if eval_first:                                  # what the app does before live training: serve eval forwards
        with torch.no_grad(): model.eval()(input_ids=IDS)
    model.train()
    model(input_ids=IDS, labels=IDS).loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def base_state(model):
    "The base's tensors (quantized weights and statistics included), adapters left out."
    return {k: v.clone() for k, v in model.state_dict().items() if "perft" not in k}


@pytest.mark.parametrize("quantization,packed", CASES)
def test_grads_do_not_depend_on_eval_forwards(quantization, packed):
    model = adapted(quantization, packed)
    if packed == "1":
        assert any(m.support_avx512bf16_for_cpu for m in model.modules() if isinstance(m, GradSafeLinear4bit))
    fresh, served = adapter_grads(model, eval_first=False), adapter_grads(adapted(quantization, packed), eval_first=True)
    assert fresh.keys() == served.keys() and len(fresh) > 0
    for n in fresh:
        assert torch.equal(fresh[n], served[n]), n
    assert sum(g.abs().sum() for g in fresh.values()) > 0
    # gradients reach the first layer's adapter, so they flowed back through layer 1's quantized attention and experts
    assert any(g.abs().sum() > 0 for n, g in fresh.items() if ".layers.0." in n)


@pytest.mark.parametrize("quantization,packed", CASES)
def test_base_frozen_unchanged_and_adapter_round_trips(quantization, packed):
    model = adapted(quantization, packed)
    before = base_state(model)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        adapter_grads(model, eval_first=True); opt.step(); opt.zero_grad()
    after = base_state(model)
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k
    assert all(not p.requires_grad for n, p in model.named_parameters() if "perft" not in n)
    with torch.no_grad(): logits = model.eval()(input_ids=IDS).logits
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d)
        with torch.no_grad(): assert torch.equal(model(input_ids=IDS).logits, logits)   # saving changed nothing
        loaded = PeftModel.from_pretrained(quantized(quantization, packed), d).eval()
        with torch.no_grad(): assert torch.equal(loaded(input_ids=IDS).logits, logits)


def test_packed_path_grads_match_plain_path():
    "Catches a packed layout used under grad (its kernel has no backward): the two paths differ by bf16 statistics only."
    plain, packed = adapter_grads(adapted("nf4", "0"), eval_first=True), adapter_grads(adapted("nf4", "1"), eval_first=True)
    for n in plain:
        rel = ((packed[n] - plain[n]).norm() / plain[n].norm()).item()
        assert rel < 0.05, (n, rel)
