# Two commands on a fresh machine:  make demo   |   make test
# Every target bootstraps what it needs (venv, pip packages, ROS 2 interfaces, Debian packages)
# and is quick the second time (stamp files).

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
IFACE_STAMP := $(VENV)/.ros_interfaces
APT_STAMP := $(VENV)/.apt
IFACE_SRC := $(shell find robots/interfaces -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' -o -name 'CMakeLists.txt' -o -name 'package.xml' \) 2>/dev/null)
APT_PACKAGES := chromium fonts-noto-cjk postgresql redis-server cmake ffmpeg

.PHONY: help venv interfaces system demo test test-fast bench lint clean

help:            ## this list
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check --upgrade "pip<27" wheel "setuptools<81"
	# a pinned, fully resolved set installed without resolution: face_recognition must not pull
	# a source build of dlib (dlib-bin provides the same module; see ../shared/notes/face.md)
	$(PIP) install -q --disable-pip-version-check --no-deps -r requirements.lock
	$(PIP) install -q --disable-pip-version-check --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
	@touch $@

venv: $(STAMP)   ## the Python environment with every dependency

$(APT_STAMP): | $(STAMP)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

system: $(APT_STAMP)  ## Debian packages: Chromium, CJK fonts, PostgreSQL, Redis, cmake, ffmpeg

$(IFACE_STAMP): $(STAMP) $(APT_STAMP) $(IFACE_SRC) robots/interfaces/build.py
	$(PY) robots/interfaces/build.py --venv $(VENV)
	@touch $@

interfaces: $(IFACE_STAMP)  ## generate the robots' own ROS 2 messages into the venv

test: $(STAMP) $(APT_STAMP) $(IFACE_STAMP)  ## the whole test suite (unit, store on SQLite+PostgreSQL, ROS 2, browser)
	@$(VENV)/bin/pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

test-fast: $(STAMP)  ## unit tests only (no ROS processes, no browser, no PostgreSQL)
	@$(VENV)/bin/pytest -q -m "not ros and not e2e and not postgres"; rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

demo: $(STAMP) $(APT_STAMP) $(IFACE_STAMP)  ## bring the hospital up (see README)
	$(VENV)/bin/hospital-ops demo

bench: $(STAMP) $(APT_STAMP) $(IFACE_STAMP)  ## benchmarks: print tables, write benchmarks/results/*.json
	$(PY) benchmarks/run_all.py

lint: $(STAMP)   ## ruff (lint + format) and mypy on every package
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy hospital_ops scheduler robots triage_kiosk sim ops_dashboard

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
