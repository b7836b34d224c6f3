"""Launch the perft_viz Gradio app: `python app.py [--model DIR_OR_HUB_ID] [--port 7860] [--host 127.0.0.1] [limits...]` (same as `perft-viz app`)."""
import os, sys
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
from perft_viz.app import main

if __name__ == "__main__":
    sys.exit(main())
