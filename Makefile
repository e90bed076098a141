# Two commands: `make demo` (set up and run the main job) and `make test` (set up and run the tests).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export SDL_VIDEODRIVER ?= dummy
export SDL_AUDIODRIVER ?= dummy
export PYGAME_HIDE_SUPPORT_PROMPT := 1

.PHONY: venv demo test test-compatible lint bench robustness docs chromium clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[agents,dev,bench,sweep,docs]"
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) scripts/demo.py

test: venv lint chromium
	$(PY) -m pytest -q -n 2 --dist loadfile
	$(MAKE) --no-print-directory test-compatible

# The learned-figure tests once more on MKL's CPU-independent code path: a margin that holds on one CPU
# only shows up here (agents/experiments/checks.py, assets/robustness.md). loadgroup: tests that share a
# cached training run (xdist_group) stay on one worker.
test-compatible: venv
	MKL_CBWR=COMPATIBLE $(PY) -m pytest -q -n 2 --dist loadgroup --learning-checks -p no:cacheprovider

# The audit behind the learned thresholds: every check over 8 seeds x CPU code paths (long: hours on 2 cores).
robustness: venv
	$(PY) scripts/robustness.py --seeds 8 --jobs 2 --out runs/robustness

# mypy checks the files listed under [tool.mypy] in pyproject.toml (about 15 s on 2 cores, cold cache).
lint: venv
	$(PY) -m ruff check brainset_envs agents scripts tests
	$(PY) -m mypy

# The documentation site, generated from the code and built with MkDocs in strict mode (any warning fails):
# open runs/docs/site/index.html. The docs extra comes with the venv (the tests build the site too).
docs: venv
	$(PY) -m agents.experiments.docs_site --out runs/docs

# Debian's Chromium and its driver, for the browser test of the docs site (tests/agents/experiments/
# test_docs_browser.py); installed once with apt (as root, or through sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

bench: venv
	$(PY) scripts/benchmark.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache .mypy_cache
