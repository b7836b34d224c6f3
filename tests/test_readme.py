"""The README's script example runs as written."""
import re, subprocess, sys
from conftest import ROOT


def test_readme_script_example_runs():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## From a script\s+```python\n(.*?)```", text, re.S).group(1)
    out = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "torch.Size([4," in out.stdout          # [layers, tokens, k] of TinyOLMoE's 4 layers
