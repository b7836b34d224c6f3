"Two threads capturing different prompts on one shared model at the same time each get their own routing (issue 10)."
import threading
import pytest, torch
from peft import get_peft_model
from perft_viz.capture import capture_routing
from perft_viz.model import random_olmoe
from perft_viz.perft.config import PerftConfig

def _capture_together(model, prompts:list) -> list:
    "Capture each prompt in its own thread; every forward waits inside layer 0 until all of them are in the model."
    barrier = threading.Barrier(len(prompts), timeout=60)
    def meet(mod, args): barrier.wait()  # returns None: the layer's inputs stay as they are
    handle = model.get_base_model().model.layers[0].register_forward_pre_hook(meet)
    results, errors = [None] * len(prompts), []
    def work(i):
        try: results[i] = capture_routing(model, prompts[i])
        except BaseException as e: errors.append(e); barrier.abort()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(prompts))]
    try:
        for t in threads: t.start()
        for t in threads: t.join(120)
    finally: handle.remove()
    assert not errors, errors
    return results

def _same(a, b):
    assert a.cache.keys() == b.cache.keys()
    for k in a.cache: assert torch.equal(a.cache[k], b.cache[k]), k
    assert torch.equal(a.logits, b.logits)

@pytest.mark.parametrize("adapter", [None, "R"])
def test_threads_get_their_own_capture(adapter):
    model = random_olmoe()
    if adapter: model = get_peft_model(model, PerftConfig(variant=adapter, num_experts=4, top_k=2, r=4)).eval()
    else: model.get_base_model = lambda: model
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 128, (1, n), generator=g) for n in (5, 7)]  # different prompts, different lengths
    alone = [capture_routing(model, p) for p in prompts]
    for _ in range(3):
        together = _capture_together(model, prompts)
        for a, b in zip(alone, together): _same(a, b)
    if adapter: assert alone[0].perft_layers == (0, 1)
    hooks = sum(len(m._forward_hooks) for m in model.modules())
    capture_routing(model, prompts[0])
    assert sum(len(m._forward_hooks) for m in model.modules()) == hooks  # nothing piles up on the shared modules
