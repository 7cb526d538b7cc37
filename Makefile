# fleet — the two commands a new machine needs are `make demo` and `make test`.
# Each installs what it is missing (Debian packages through apt-get) and builds.
SHELL := /bin/bash
SWIFT ?= swift
DEB_PACKAGES := libssh2-1-dev libssl-dev libsqlite3-dev pkg-config openssh-server openssh-client python3 python3-yaml procps sqlite3 python3-prometheus-client python3-pytest sudo chromium iproute2 openssl

.PHONY: deps build test demo bench clean-farm

deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@# The Kubernetes tests run the real kubectl (this image ships 1.32 as /usr/bin/kubectl);
	@# elsewhere Debian's kubernetes-client provides one.
	@command -v kubectl >/dev/null || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq kubernetes-client; }

build: deps
	$(SWIFT) build

# The simulator's own tests (pytest, real sshd on 127.0.9.x) run first; then every Swift
# test target (unit, store on real SQLite files, SSH against sshd on loopback, scan and
# clean end to end against the simulated farm).
test: deps
	/usr/bin/python3 -m pytest -q Tests/FarmTests
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: build
	tools/demo.sh

# Benchmarks (not tests; they print numbers, README "Measured"): parser, SSH transport, the
# scan of a simulated farm (BENCH_N nodes, BENCH_C at once; PEERS=1 also runs pssh, clush,
# Ansible, parallel-ssh and ssh|xargs on the same farm with both jobs, installing what is
# missing), `fleet clean --execute` on such a farm, the history queries over 1,000 nodes x 365 days (scans shared, then every scan
# distinct), the history's growth over BENCH_GROWTH_SCANS scans of an unchanged farm, and
# `fleet report` over 1,000 nodes x 90 days; then one table of every number (bench/summary.sh).
# Each script appends its numbers to $BENCH_SUMMARY (bench/record.sh: key, value, unit,
# command, load); a new bench sources bench/record.sh, calls bench_record, and gets a line
# here (bench/README.md). A failing bench does not stop the others: its numbers read "not
# measured" in the table. Farm benches take their addresses from BENCH_BASE.
BENCH_N ?= 1000
BENCH_C ?= 200
BENCH_GROWTH_SCANS ?= 24
BENCH_SUMMARY ?= $(CURDIR)/.build/bench-summary.tsv
bench: export BENCH_SUMMARY := $(abspath $(BENCH_SUMMARY))
bench: deps
	mkdir -p $(dir $(BENCH_SUMMARY)) && : > $(BENCH_SUMMARY)
	-bench/parse.sh
	-bench/ssh.sh $(BENCH_N) $(BENCH_C)
	-bench/scan.sh $(if $(PEERS),--peers --install --peer-job both) $(BENCH_N) $(BENCH_C)
	-bench/clean.sh $(BENCH_N) $(BENCH_C)
	-bench/scan.sh --scenario tools/farm/scenarios/maps8.yaml $(BENCH_N) $(BENCH_C)
	-bench/scan.sh --scenario tools/farm/scenarios/maps50.yaml $(BENCH_N) $(BENCH_C)
	-bench/cpu.sh --callgrind
	-bench/history.sh
	-DISTINCT=1 bench/history.sh
	-bench/history-growth.sh $(BENCH_N) $(BENCH_GROWTH_SCANS) $(BENCH_C)
	-bench/report.sh
	bench/summary.sh $(BENCH_SUMMARY)
