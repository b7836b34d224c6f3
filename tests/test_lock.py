"""The lock file agrees with pyproject.toml and with the installed environment, and disagreement is caught."""
import shutil, sys
from conftest import ROOT
sys.path.insert(0, str(ROOT / "tools"))
import lock


def test_lock_agrees_with_pyproject_and_environment():
    assert lock.problems(torch_spec="torch==2.13.0") == []


def test_changed_dependency_is_caught(tmp_path):
    py = tmp_path / "pyproject.toml"
    py.write_text((ROOT / "pyproject.toml").read_text().replace('"transformers>=5.0,<6"', '"transformers>=6.0"'))
    found = lock.problems(pyproject=py, installed=False)
    assert any("dependencies changed" in p for p in found)
    assert any("outside pyproject.toml's 'transformers>=6.0'" in p for p in found)


def test_unpinned_new_dependency_and_drift_are_caught(tmp_path):
    py, lk = tmp_path / "pyproject.toml", tmp_path / "requirements.lock"
    py.write_text((ROOT / "pyproject.toml").read_text().replace('"tqdm",', '"tqdm",\n    "einops",'))
    shutil.copy(lock.LOCK, lk)
    assert any("einops is declared" in p for p in lock.problems(pyproject=py, lock=lk, installed=False))
    lk.write_text(lock.LOCK.read_text().replace("\nplotly==", "\nplotly==0.0.1\n#"))   # a pin the venv does not have
    assert any(p.startswith("plotly ") and "pins 0.0.1" in p for p in lock.problems(lock=lk))


def test_torch_pin_must_match_the_makefile():
    assert any("Makefile installs torch==9.9.9" in p for p in lock.problems(installed=False, torch_spec="torch==9.9.9"))
