"""Server time of the app's Routing view (`/route`: heatmap, top-1 highlights, load figure) for a 64-token prompt,
with 1 client and with 16 concurrent clients, on one served app (in this process, like `python app.py`).

Two times per call: the handler's own time on the server (prompt cut, capture, figures; what a visitor's call costs
the server) and the latency a gradio_client sees (adds the queue wait behind other visitors and the transport).
Reports p50/p90 of each, for each `--model-concurrency` (reading views allowed at once). Not a test: prints a
markdown table, writes bench/results/bench_app.json.

    python bench/bench_app.py [--calls 40] [--clients 16] [--concurrency 1 2] [--model DIR]
"""
import argparse, json, os, platform, socket, statistics, threading, time
from pathlib import Path
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
import torch
from gradio_client import Client
from perft_viz.model import load_model
from perft_viz import app as A

OUT = Path(__file__).resolve().parent / "results"


def free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def prompt_of(tok, n=64):
    "A prompt of exactly `n` tokens (decoded from the first n tokens of a longer text)."
    text = " ".join(["The patient was given 5 mg of the drug, and 12 + 7 = 19; reverse abc -> cba."] * 20)
    ids = tok(text, add_special_tokens=False).input_ids[:n]
    p = tok.decode(ids)
    assert len(tok(p, add_special_tokens=False).input_ids) == n
    return p


def pct(xs, q): return statistics.quantiles(xs, n=10)[q // 10 - 1] if len(xs) > 1 else xs[0]


def serve(loaded, concurrency):
    "Serve the app with a timed /route handler; (url, server times list, demo)."
    times = []
    route = A.RoutingView.route
    def timed(self, *a, **k):
        t = time.perf_counter(); r = route(self, *a, **k); times.append(time.perf_counter() - t); return r
    A.RoutingView.route = timed
    try: demo = A.build_app(loaded, model_concurrency=concurrency)
    finally: A.RoutingView.route = route
    port = free_port()
    demo.queue(max_size=256).launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return f"http://127.0.0.1:{port}", times, demo


def run(url, times, prompt, clients, calls):
    "Each of `clients` threads makes `calls` /route calls; (server times, client latencies) in ms."
    cs = [Client(url, verbose=False) for _ in range(clients)]
    for c in cs: c.predict(prompt, 0, api_name="/route")        # warm up each session
    del times[:]
    lat = []
    def one(c):
        for i in range(calls):
            t = time.perf_counter(); status = c.predict(prompt, i % 2, api_name="/route")[3]; lat.append(time.perf_counter() - t)
            assert status.startswith("Routed 64 tokens"), status
    ts = [threading.Thread(target=one, args=(c,)) for c in cs]
    for t in ts: t.start()
    for t in ts: t.join()
    return [x * 1e3 for x in times], [x * 1e3 for x in lat]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=40, help="calls per client alone; 16 clients make calls/4 each")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    p.add_argument("--model", default=None)
    a = p.parse_args()
    loaded = load_model(a.model)
    prompt = prompt_of(loaded.tokenizer)
    rows = []
    for conc in a.concurrency:
        url, times, demo = serve(loaded, conc)
        for clients, calls in ((1, a.calls), (a.clients, max(1, a.calls // 4))):
            srv, lat = run(url, times, prompt, clients, calls)
            rows.append(dict(model_concurrency=conc, clients=clients, calls=len(lat), server_p50_ms=pct(srv, 50), server_p90_ms=pct(srv, 90),
                             client_p50_ms=pct(lat, 50), client_p90_ms=pct(lat, 90)))
        demo.close()
    head = "| model concurrency | clients | calls | server p50 ms | server p90 ms | client p50 ms | client p90 ms |"
    print(head + "\n|" + "---|" * 7)
    for r in rows:
        print(f"| {r['model_concurrency']} | {r['clients']} | {r['calls']} | {r['server_p50_ms']:.0f} | {r['server_p90_ms']:.0f} | "
              f"{r['client_p50_ms']:.0f} | {r['client_p90_ms']:.0f} |")
    OUT.mkdir(exist_ok=True)
    meta = dict(model=loaded.source.rsplit("/", 1)[-1], prompt_tokens=64, torch_threads=torch.get_num_threads(), cpu=platform.processor() or platform.machine(), load_average=os.getloadavg()[0],
                when=time.strftime("%Y-%m-%d %H:%M"))
    (OUT / "bench_app.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))


if __name__ == "__main__":
    main()
