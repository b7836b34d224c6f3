"""The lock file: exact versions of every direct and transitive dependency the tests pass with.

    python tools/lock.py write VENV   # write requirements.lock from a venv (what `make lock` does)
    python tools/lock.py check        # fail when pyproject.toml, the lock and this environment disagree

The lock's header records a hash of pyproject.toml's dependency lists, so editing them without
re-locking fails `make test` with a message that says to run `make lock`.
"""
from __future__ import annotations
import hashlib, os, re, subprocess, sys, tempfile, tomllib
from importlib import metadata
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
TORCH_FAMILY = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*)$")   # installed from $(TORCH), not from the lock


def declared(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    "Every requirement pyproject.toml declares (runtime and the `dev` extra), normalised and sorted."
    project = tomllib.loads(pyproject.read_text())["project"]
    reqs = project.get("dependencies", []) + [r for extra in project.get("optional-dependencies", {}).values() for r in extra]
    return sorted(str(Requirement(r)) for r in reqs)


def deps_hash(pyproject: Path = ROOT / "pyproject.toml") -> str:
    return hashlib.sha256("\n".join(declared(pyproject)).encode()).hexdigest()


def read_lock(lock: Path = LOCK) -> tuple[str | None, dict[str, str]]:
    "(recorded pyproject hash, {canonical name: version})."
    recorded, pins = None, {}
    for line in lock.read_text().splitlines():
        if m := re.match(r"#\s*pyproject-sha256:\s*([0-9a-f]{64})", line): recorded = m.group(1)
        line = line.split("#")[0].strip()
        if not line: continue
        name, _, version = line.partition("==")
        if not version: raise SystemExit(f"{lock.name}: '{line}' is not an exact pin (name==version). Run `make lock`.")
        pins[canonicalize_name(name)] = version
    return recorded, pins


def problems(pyproject: Path = ROOT / "pyproject.toml", lock: Path = LOCK, installed: bool = True,
             torch_spec: str | None = None,   # the Makefile's $(TORCH); a `torch==V` pin must match the lock's torch
            ) -> list[str]:
    "Every way pyproject.toml, the lock and (optionally) this environment disagree; empty when they agree."
    if not lock.exists(): return [f"{lock.name} is missing: run `make lock` and commit it."]
    recorded, pins = read_lock(lock)
    out = []
    if recorded != deps_hash(pyproject):
        out.append(f"pyproject.toml's dependencies changed since {lock.name} was written: run `make lock` and commit both.")
    for r in map(Requirement, declared(pyproject)):
        name = canonicalize_name(r.name)
        if name not in pins: out.append(f"{r.name} is declared in pyproject.toml but not pinned in {lock.name}: run `make lock`."); continue
        v = Version(pins[name])
        if not r.specifier.contains(Version(v.public), prereleases=True):
            out.append(f"{lock.name} pins {r.name}=={pins[name]}, outside pyproject.toml's '{r}': run `make lock`.")
    if torch_spec and (m := re.fullmatch(r"torch==([\w.]+)", torch_spec.strip())) and "torch" in pins:
        if Version(pins["torch"]).public != Version(m.group(1)).public:
            out.append(f"The Makefile installs {torch_spec} but {lock.name} pins torch=={pins['torch']}: run `make lock`.")
    if installed:
        for name, version in pins.items():
            if TORCH_FAMILY.match(name): continue
            try: have = metadata.version(name)
            except metadata.PackageNotFoundError: out.append(f"{name}=={version} is locked but not installed: run `make install`."); continue
            if Version(have) != Version(version):
                out.append(f"{name} {have} is installed but {lock.name} pins {version}: run `make clean install`.")
    return out


def write(venv: Path, lock: Path = LOCK):
    "Freeze `venv` (all but the editable project itself) into the lock, atomically."
    frozen = subprocess.run([str(venv / "bin" / "pip"), "freeze", "--exclude-editable"], check=True, capture_output=True, text=True).stdout
    pins = sorted((l for l in frozen.splitlines() if "==" in l and not l.startswith("#")), key=str.lower)
    header = ["# Exact versions the tests pass with. Regenerate with `make lock` (never edit by hand).",
              f"# pyproject-sha256: {deps_hash()}"]
    fd, tmp = tempfile.mkstemp(dir=lock.parent, prefix=".lock.")
    with os.fdopen(fd, "w") as f: f.write("\n".join(header + pins) + "\n")
    os.chmod(tmp, 0o644); os.replace(tmp, lock)
    print(f"wrote {lock.name}: {len(pins)} pins")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "check"
    if cmd == "write": write(Path(sys.argv[2]))
    elif cmd == "check":
        torch_spec = sys.argv[sys.argv.index("--torch") + 1] if "--torch" in sys.argv else None
        bad = problems(torch_spec=torch_spec)
        for p in bad: print(f"lock: {p}", file=sys.stderr)
        if bad: sys.exit(1)
        print(f"lock: {LOCK.name} agrees with pyproject.toml and this environment")
    else: sys.exit(__doc__)
