"""A visitor's own scoring and their reads of the same adapted model at the same time: every read sees the adapter.

Scoring switches the adapter off to score the base model (peft's `disable_adapter`); a capture or an answer that ran
meanwhile on the same model would silently show the base model. `LiveRun.use_lock` serialises them.

Run: .venv/bin/pytest -q tests/test_live_readers.py   (about a minute on 2 cores)"""
import threading
import torch
from perft_viz.model import load_model
from perft_viz.live import LiveRun
from perft_viz.app_views import TeachView, reading
from perft_viz.capture import capture_prompt


class Session:   # what the app's session store hands the views: the visitor's run
    def __init__(self, run): self.run = run


def test_reads_during_scoring_see_the_adapter():
    torch.set_num_threads(1)
    loaded = load_model()
    run = LiveRun(loaded)
    run.start("R", experts=4, top_k=2, rank=4, steps=6, batch_size=8, lr=5e-2, score=False)
    run.wait()
    model, tok, prompt = run.trained(), loaded.tokenizer, "reverse pencil -> licnep"
    adapted_logits = capture_prompt(model, tok, prompt).capture.logits
    with model.disable_adapter(): base_logits = capture_prompt(model, tok, prompt).capture.logits
    assert not torch.equal(adapted_logits, base_logits)          # the adapter changes the output: a read without it is visible
    view, session, errors, seen = TeachView(loaded), Session(run), [], []

    def score():
        try:
            for _ in range(3): run.heldout(per_task=2)
        except Exception as e: errors.append(e)
    scorer = threading.Thread(target=score); scorer.start()
    while scorer.is_alive():
        with reading(session): seen.append(view._capture(model, prompt).capture.logits)
    scorer.join()
    assert not errors, errors
    assert len(seen) >= 2
    assert all(torch.equal(s, adapted_logits) for s in seen)      # never the base model's logits
    assert torch.equal(capture_prompt(model, tok, prompt).capture.logits, adapted_logits)   # the adapter is on afterwards
