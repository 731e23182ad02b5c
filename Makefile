# The two set-up commands of the README: `make demo` (the main job) and `make test`.
# Both create the environments they need on a machine that has never seen the project.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Lava 0.10 needs Python 3.10 and numpy<2: it lives in its own environment.
LAVA_PYTHON ?= $(shell command -v pyenv >/dev/null 2>&1 && echo $$(pyenv root)/versions/3.10.13/bin/python3.10 || echo python3.10)
LAVA_VENV := .venv-lava
PYTEST_ARGS ?=

.PHONY: demo test test-slow bench lint lava-env clean browser

$(VENV)/.installed: pyproject.toml constraints/torch.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: anything else would pull a multi-GB CUDA build
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints/torch.txt -e ".[torch,brian2,dev,tasks,sanafe,nir,dask]"
	# interop peers for the tests: norse/neurobench declare torchvision/torchaudio, which would pull another
	# torch and fail to import beside 2.13; they work without them, so they come in without their deps
	$(PY) -m pip install --quiet -c constraints/torch.txt "nirtorch>=2.6"
	$(PY) -m pip install --quiet --no-deps "snntorch==1.0.0" "norse==1.1.0" "neurobench==2.3.0"
	touch $@

$(LAVA_VENV)/.installed:
	test -x $(LAVA_VENV)/bin/python || $(LAVA_PYTHON) -m venv $(LAVA_VENV)
	$(LAVA_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAVA_VENV)/bin/python -m pip install --quiet "lava-nc==0.10.0" "numpy<2"
	touch $@

lava-env: $(LAVA_VENV)/.installed

demo: $(VENV)/.installed $(LAVA_VENV)/.installed
	$(VENV)/bin/snn demo

# headless Chromium (Debian's package) renders the HTML report in tests/energy: installed when missing, as root with apt-get
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

test: $(VENV)/.installed $(LAVA_VENV)/.installed browser
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(VENV)/.installed $(LAVA_VENV)/.installed
	$(PY) -m pytest -m "slow" $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check snn hardware tasks energy tests benchmarks examples

clean:
	rm -rf $(VENV) $(LAVA_VENV) reports
