# The test command of the README: installs what the tests need when it is
# missing (Debian packages, pinned Go tools), then runs every check.
GO        ?= go
GOBIN     := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.6.1
APT_PACKAGES := redis-server prometheus chromium

SHELL := bash

.PHONY: test deps lint unit python steptag readme bench bench-report build proto

test: deps lint unit python steptag readme

build:
	$(GO) build -o bin/shepherd ./cmd/shepherd

# redis-server for the queue and server tests, prometheus (and promtool) for
# the metrics and dashboard tests, chromium (headless) for the report page
# test; the Python client's script installs its own.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# Regenerates the API's Go code (buf, pinned plugins) and the Python
# client's messages and stub from proto/shepherd/v1/shepherd.proto; each
# script installs its pinned generators when missing.
proto:
	bash proto/generate.sh
	bash client/python/generate.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

# Prints what go test prints, then how many tests were skipped and why
# (the reference data tests skip without ../shared/data or SHEPHERD_DATA).
unit:
	set -o pipefail; $(GO) test -race -count=1 -timeout 10m -json ./... | $(GO) run ./tools/testsummary

python:
	bash client/python/run_tests.sh

# Which tokenizers read the step tag " ки" as one token (npm packages that
# ship the vocabularies; see tools/steptag/check.mjs).
steptag:
	bash tools/steptag/run.sh

# Runs every README command that needs no GPU, Docker or server, in order,
# in a scratch directory (tools/readmecheck); fails on a non-zero exit.
readme:
	$(GO) run ./tools/readmecheck README.md

# The benchmarks recorded in BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench 'Strategies|Routing' -benchtime 1x -count 3 ./rollout/
	$(GO) test -run '^$$' -bench 'Grade|Equivalent' -count 5 ./labeler/grade/
	$(GO) test -run '^$$' -bench 'Split' -count 5 ./labeler/

# shepherd report on 1,000,000 generated label records: wall time and peak
# resident memory (BENCHMARKS.md). REPORT_BENCH_DIR holds the ~650 MB input.
REPORT_BENCH_DIR ?= /tmp/shepherd-report-bench
bench-report:
	mkdir -p $(REPORT_BENCH_DIR)
	$(GO) build -o $(REPORT_BENCH_DIR)/shepherd ./cmd/shepherd
	$(GO) run ./cmd/shepherd/internal/report/genrecords -n 1000000 -out $(REPORT_BENCH_DIR)/million.jsonl
	/usr/bin/time -v $(REPORT_BENCH_DIR)/shepherd report --in $(REPORT_BENCH_DIR)/million.jsonl --out $(REPORT_BENCH_DIR)/million.html 2>&1 | grep -E 'report of|Elapsed|Maximum resident'
