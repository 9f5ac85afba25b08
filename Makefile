# kubebake's build. `make` builds bin/kubebake with both kubebake-join agents
# embedded; `make test` runs every test (it installs what the tests need
# first); `make example` renders the sample node configs into out/.

GO      ?= go
ARCHES  := amd64 arm64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Reproducible builds: no paths, no VCS stamp, no build id.
REPRO   := -trimpath -buildvcs=false
# net/http without its HTTP/2 client: the agent's two GETs need HTTP/1.1
# only, and it stays within its 3.0 MB (gzip -9) budget.
AGENT_TAGS := nethttpomithttp2
AGENT_SRC := $(shell find cmd/kubebake-join internal -name '*.go' -not -name '*_test.go') go.mod go.sum
export KUBEBAKE_CACHE ?= $(CURDIR)/.cache

.PHONY: all embed build test test-unit bench example clean fmt vet
# Keep the uncompressed agents: tests compare them with what a config lays down.
.PRECIOUS: bin/kubebake-join-linux-%

all: build

embed: $(foreach a,$(ARCHES),embed/dist/kubebake-join-linux-$(a).gz)

bin/kubebake-join-linux-%: $(AGENT_SRC)
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build $(REPRO) -tags '$(AGENT_TAGS)' -ldflags='-s -w -buildid=' -o $@ ./cmd/kubebake-join

embed/dist/kubebake-join-linux-%.gz: bin/kubebake-join-linux-% tools/mkembed/main.go
	$(GO) run ./tools/mkembed -in $< -out $@

build: embed
	CGO_ENABLED=0 $(GO) build $(REPRO) -ldflags='-s -w -X main.version=$(VERSION)' -o bin/kubebake ./cmd/kubebake

# Every test: unit, CLI, golden, the real Ignition applier, real cloud-init,
# systemd-analyze, and the end-to-end join against a real control plane.
test:
	./scripts/test.sh

# Unit, CLI and golden tests only: no set-up, seconds.
test-unit: embed
	$(GO) test ./...

bench: build
	./scripts/bench.sh

example: build
	./scripts/example.sh

fmt:
	gofmt -l -w .

vet:
	$(GO) vet ./...

clean:
	rm -rf bin out
	find embed/dist -type f ! -name .keep -delete
