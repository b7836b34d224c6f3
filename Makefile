# One command each: `make demo` (set up + serve the app), `make test` (set up + every test).
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.perft_viz-installed
export PYTHONUNBUFFERED := 1

.PHONY: install lock demo test browser test-slow bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every version comes from requirements.lock (torch from $(TORCH), so TORCH= can pick another build).
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	grep -vE '^(torch|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)==' requirements.lock > $(VENV)/constraints.txt
	$(BIN)/pip install -q -c $(VENV)/constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Re-resolve every dependency to its newest allowed version in a scratch venv and rewrite requirements.lock.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q "$(TORCH)"
	.lock-venv/bin/pip install -q -e ".[dev]"
	.lock-venv/bin/python tools/lock.py write .lock-venv
	rm -rf .lock-venv
	@echo "requirements.lock rewritten: run \`make clean test\`, then commit it."

demo: install
	$(BIN)/python app.py --host 127.0.0.1 --port 7860

# Debian's chromium for the browser tests (playwright drives it; never `playwright install`).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  else sudo -n apt-get update -q && sudo -n apt-get install -y -q chromium; fi; } \
	  || { echo "chromium is missing and could not be installed: apt-get install chromium"; exit 1; }

test: install browser
	$(BIN)/python tools/lock.py check --torch "$(TORCH)"
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- nbs perft_viz)" ]; then \
	  echo "nbs/ and perft_viz/ are not clean and in sync (run nbdev-clean && nbdev-export, then commit):"; \
	  git status --porcelain -- nbs perft_viz; exit 1; fi
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --timing   # 2 notebooks at once, 1 thread each: no oversubscription
	$(BIN)/pytest tests/ -q -m "not slow"

test-slow: install browser
	$(BIN)/nbdev-test --flags slow --n-workers 1
	$(BIN)/pytest tests/ -q

bench: install
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .lock-venv _proc _docs
