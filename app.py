"""Launch the perft_viz Gradio app: `python app.py [--model DIR_OR_HUB_ID] [--port 7860] [--host 127.0.0.1]`."""
import argparse
from perft_viz.app import launch

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default=None, help="local checkpoint dir or hub id (default: the shipped TinyOLMoE)")
    p.add_argument("--quantization", default=None, choices=["nf4", "fp4", "int8"], help="quantize the base model")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default localhost only; 0.0.0.0 to expose)")
    p.add_argument("--port", type=int, default=7860)
    a = p.parse_args()
    launch(a.model, quantization=a.quantization, host=a.host, port=a.port)
