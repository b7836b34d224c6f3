"""The same endpoint through Gradio's API, as a script would call it."""
from gradio_client import Client
from conftest import n_routed


def test_route_endpoint(app_url):
    client = Client(app_url, verbose=False)
    heat, top1, load, status = client.predict("reverse abc -> cba", 0, api_name="/route")
    assert status.startswith("Routed ")
    n = n_routed(status)
    assert len(top1) == n and all(h["class_or_confidence"].startswith("E") for h in top1)
    assert heat is not None and load is not None


def test_route_endpoint_bad_input(app_url):
    client = Client(app_url, verbose=False)
    *_, status = client.predict("", 0, api_name="/route")
    assert "prompt is empty" in status
    *_, status = client.predict("x" * 2000, 0, api_name="/route")   # longer than the model's limit
    assert "only the first" in status


def test_neurons_endpoint(app_url):
    client = Client(app_url, verbose=False)
    plot, status = client.predict("12 + 7 = 19", 0, 1, api_name="/neurons")
    assert status.startswith("Token 1 ") and plot is not None
    plot, status = client.predict("12", 0, 50, api_name="/neurons")
    assert plot is None and "Pick a token position" in status
