# Front door. `make test` and `make serve` work on a fresh Debian 12 machine: they install what is missing.
SHELL := /bin/bash
BUILD ?= build
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 120
TEST_FUZZ_SECONDS ?= 30
VENV := .venv
PY := $(VENV)/bin/python

# Debian packages the C++ side builds against (DESIGN.md §7) and the tools the build and tests use.
APT_PACKAGES := build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
  libhwy-dev nlohmann-json3-dev libcli11-dev libfmt-dev libspdlog-dev libpcre2-dev \
  libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev python3 python3-venv python3-pip curl

.PHONY: all deps venv build test test-cpp test-python fuzz fuzz-build serve bench clean

all: build

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(VENV)/.stamp: requirements-test.txt requirements-test-nodeps.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-test-nodeps.txt
	touch $@

venv: deps $(VENV)/.stamp

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

test-cpp: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-python: build venv
	FP4SERVE_BUILD=$(abspath $(BUILD)) $(PY) -m pytest -q $$(ls -d tests/python tests/integration 2>/dev/null); \
	  rc=$$?; [ $$rc -eq 5 ] && { echo "pytest: no Python tests collected"; rc=0; }; exit $$rc

fuzz-build: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFP4_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_all

# Each libFuzzer target runs for FUZZ_SECONDS from its committed seed corpus (tests/fuzz/corpus/<name>).
fuzz: fuzz-build
	@set -e; for f in $(FUZZ_BUILD)/tests/fuzz_*; do \
	  [ -x "$$f" ] || continue; \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; work=$(FUZZ_BUILD)/corpus/$${name#fuzz_}; \
	  mkdir -p $$work; echo "== $$name for $(FUZZ_SECONDS) s"; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      $$work $$( [ -d $$corpus ] && echo $$corpus ) >$$work.log 2>&1; then \
	    tail -n 40 $$work.log; echo "FAILED: $$name found a crash (reproducer above)"; exit 1; \
	  fi; grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $$work.log || true; \
	done

test: test-cpp test-python
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

# The shipped model, quantized to NVFP4 (ModelOpt layout) on first use, served on 127.0.0.1:8000.
# SERVE_ARGS adds server flags, e.g. make serve SERVE_ARGS="--api-key KEY --port 8080".
SERVE_MODEL ?= $(BUILD)/models/tiny-r1-nvfp4
SERVE_ARGS ?=
serve: build
	@if [ ! -f $(SERVE_MODEL)/config.json ]; then \
	  mkdir -p $(dir $(SERVE_MODEL)) && \
	  $(BUILD)/src/fp4serve quantize models/tiny-r1 $(SERVE_MODEL) --format nvfp4; \
	fi
	$(BUILD)/src/fp4serve serve -m $(SERVE_MODEL) --served-model-name tiny-r1 --host 127.0.0.1 --port 8000 $(SERVE_ARGS)

bench: build
	@ls $(BUILD)/bench/ | grep -v -E '\.|CMake' || true

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
