# Lend: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/lend
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# DuckDB must never try the network for extensions; tests and the binary set this too.
export GOFLAGS := -buildvcs=false

.PHONY: all build run test test-short bench loadtest notebooks fmt vet clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lend

# The service on embedded defaults (./lend-data; a demo portfolio on first start).
run: build
	./$(BIN) serve --demo

# The whole test suite. PostgreSQL-backed tests run when a server answers.
test:
	@if [ -z "$$LEND_TEST_POSTGRES" ] && command -v pg_isready >/dev/null 2>&1 && ! pg_isready -h 127.0.0.1 -p 5432 -q \
		&& command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then \
		echo "make test: starting the local PostgreSQL cluster"; \
		pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
		for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done; \
	fi; \
	if [ -z "$$LEND_TEST_POSTGRES" ] && command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then \
		export LEND_TEST_POSTGRES="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"; \
		echo "make test: PostgreSQL found, LEND_TEST_POSTGRES=$$LEND_TEST_POSTGRES"; \
	fi; \
	if [ -z "$$LEND_TEST_POSTGRES" ]; then \
		echo "make test: PostgreSQL tests skipped: LEND_TEST_POSTGRES not set and no server answers on 127.0.0.1:5432"; \
	fi; \
	$(GO) vet ./... && $(GO) test -count=1 -timeout 25m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Benchmarks; figures go to docs/PERFORMANCE.md with the machine and the command.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

# The API measured by a separate load-generator process against lend serve --demo
# (LOADTEST_CONNS, LOADTEST_RATE, LOADTEST_N; see docs/perf/api-resources.md).
loadtest: build
	$(GO) build -o bin/lendload ./cmd/lendload
	./scripts/loadtest.sh

notebooks:
	./notebooks/run.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin
