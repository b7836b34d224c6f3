"""The shipped adapter bank and composition, from outside: `perft-viz bank` bad input, the bank on TinyOLMoE, refusals that leave everything as it was."""
import json, shutil
import pytest
import torch
from conftest import ROOT

BANK = ROOT / "assets" / "adapters"


def test_bank_cli_refuses_unknown_kind(tmp_path, capsys):
    from perft_viz.cli import main
    assert main(["bank", "--out", str(tmp_path / "b"), "--kinds", "lora-everything"]) == 2
    err = capsys.readouterr().err
    assert "lora-everything" in err and "perft-r" in err      # names the bad value and what is allowed
    assert not (tmp_path / "b").exists()


@pytest.fixture(scope="module")
def served():
    from perft_viz.model import load_model
    torch.set_num_threads(1)
    model, tok, _ = load_model()
    return model, tok, {k: v.clone() for k, v in model.state_dict().items()}


def test_shipped_bank_each_adapter_alone(served):
    from perft_viz.compose import load_bank, composing
    model, tok, before = served
    bank = load_bank(model, tok)
    manifest = json.loads((BANK / "bank.json").read_text())
    assert bank.names() == [a["name"] for a in manifest["adapters"]]
    ids = tok("Which operation does the equation use?", return_tensors="pt").input_ids
    with torch.no_grad():
        base = model(input_ids=ids).logits
        outs = {}
        for n in bank.names():
            with composing(bank, [n]) as m: outs[n] = m(input_ids=ids).logits
    for n, o in outs.items(): assert (o - base).abs().max() > 1e-3, n     # every adapter changes the output alone
    assert (outs["perft-r/operator"] - outs["perft-r/fact_kind"]).abs().max() > 1e-3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # the served model is untouched


def test_bank_for_another_vocabulary_is_refused(served, tmp_path):
    from perft_viz.core import PerftVizError
    from perft_viz.compose import load_bank
    model, tok, before = served
    shutil.copytree(BANK, tmp_path / "bank")
    m = json.loads((tmp_path / "bank" / "bank.json").read_text())
    m["base"]["vocab_sha256"] = "0" * 16
    (tmp_path / "bank" / "bank.json").write_text(json.dumps(m))
    with pytest.raises(PerftVizError, match=r"perft-r/operator.*vocab_sha256"):
        load_bank(model, tok, tmp_path / "bank")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bad_requests_leave_the_bank_as_it_was(served):
    from perft_viz.core import PerftVizError
    from perft_viz.compose import load_bank, composing
    from perft_viz.merge import merge
    model, tok, _ = served
    bank = load_bank(model, tok, kinds=("perft-r",))
    keys = set(bank.model("perft").peft_config)
    for bad, match in [(lambda: composing(bank, []).__enter__(), "No adapters"),
                       (lambda: composing(bank, ["perft-r/nope"]).__enter__(), "perft-r/operator"),
                       (lambda: merge(bank, ["perft-r/operator", "perft-r/nope"], "m"), "no adapter named"),
                       (lambda: merge(bank, ["perft-r/operator", "perft-r/code_kind"], "m", "mean"), "task_arithmetic")]:
        with pytest.raises(PerftVizError, match=match): bad()
    assert set(bank.model("perft").peft_config) == keys and len(bank) == 5
