# ImplantFHE build and verification entry points.
#   make test   - everything CI runs (formatting, vet, staticcheck, race tests,
#                 model check, traceability, spec syntax, fhe proofs, short fuzzing)
#   make demo   - the command path demo (FHE verdict + safety kernel)
#   make firmware    - reproducible implant binaries for the boards and the host
#   make conformance - the auditor's conformance report (build/conformance)
#   make mutants     - mutation run over the kernels (build/mutants.md)
#   make diagrams    - the architecture diagrams (docs/diagrams -> build/docs)

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
SPECCHECK_DIR := tools/speccheck

.PHONY: firmware conformance diagrams test fmt-check vet staticcheck gotest e2e model trace spec-check spec-traces proofs proofs-kernel proofs-kernel-full fuzz bench bench-fhe demo speccheck-deps mutants mutants-short

test: fmt-check vet staticcheck gotest e2e model trace spec-check proofs proofs-kernel mutants-short fuzz
	@echo "make test: all checks passed"

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

# Unit, property and package tests under the race detector. The end-to-end
# tests run the implant binary as a process and are run without it (e2e).
gotest:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e$$)

# Kill the implant process at 60 random points of a scripted run.
e2e:
	$(GO) test -count=1 -v ./e2e/

# Exhaustive model check of the kernels against the spec's invariants.
model:
	$(GO) run ./cmd/model

# Every requirement ID in spec, kernel, tests and the catalogue; every
# threat and hazard linked to existing requirements and tests, every
# requirement covered by a threat or hazard (conformance/*.json).
trace:
	$(GO) run ./cmd/trace

speccheck-deps:
	@if [ ! -d $(SPECCHECK_DIR)/node_modules/web-tree-sitter ]; then \
		cd $(SPECCHECK_DIR) && npm ci --ignore-scripts --no-audit --no-fund; fi

# Syntax of the TLA+ specs with the tree-sitter TLA+ grammar (TLC is not in
# any registry this project uses; see spec/README.md to run it).
spec-check: speccheck-deps
	node $(SPECCHECK_DIR)/check.mjs spec

# Regenerate the kernel traces that TLC can validate against the spec.
spec-traces:
	$(GO) run ./cmd/spectraces -out spec/traces

# Error bound and encrypted full-domain check of the homomorphic comparison.
proofs:
	$(GO) run ./proofs/compare

# The kernels' strengthened safety invariants are inductive over their
# bounded state type (proofs/inductive): a sample in `make test`, the whole
# type in proofs-kernel-full (about 1.5 min on 2 cores).
INDUCTIVE_SAMPLE ?= 8
proofs-kernel:
	$(GO) run ./proofs/inductive -sample $(INDUCTIVE_SAMPLE)

proofs-kernel-full:
	$(GO) run ./proofs/inductive

# Mutation run over the kernels (cmd/mutants/mutants.tsv): each mutant
# against the model check, then the kernel tests; writes build/mutants.md
# and build/mutants.json. mutants-short runs an even sample of the list.
MUTANTS_SAMPLE ?= 8
mutants:
	$(GO) run ./cmd/mutants

mutants-short:
	$(GO) run ./cmd/mutants -sample $(MUTANTS_SAMPLE) -out build/mutants-short

# Short coverage-guided fuzzing of every decoder (tools/fuzz.sh).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash tools/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench Step -benchmem ./kernel/...

bench-fhe:
	$(GO) run ./cmd/fhebench -runs 3

# The whole command path: provisioning, implant and relay processes on
# loopback, the scripted scenario, and offline verification of both logs.
demo:
	$(GO) build -o build/bin/ ./cmd/implant ./cmd/relay ./cmd/ifhe ./cmd/demo
	build/bin/demo -bin build/bin

# Reproducible implant binaries: linux/arm64 (the target board), linux/arm
# v7 and the host (linux/amd64). No cgo, no paths, no VCS stamp, no build ID:
# the same source and toolchain give the same bytes. FIRMWARE_VERIFY=1
# rebuilds the arm64 binary in an empty build cache and fails unless its
# SHA-256 is identical.
FIRMWARE_DIR   := build/firmware
FIRMWARE_FLAGS := -trimpath -buildvcs=false -ldflags='-buildid= -s -w'
FIRMWARE_VERIFY ?=
firmware:
	@mkdir -p $(FIRMWARE_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(FIRMWARE_FLAGS) -o $(FIRMWARE_DIR)/implant-linux-arm64 ./cmd/implant
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(FIRMWARE_FLAGS) -o $(FIRMWARE_DIR)/implant-linux-armv7 ./cmd/implant
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(FIRMWARE_FLAGS) -o $(FIRMWARE_DIR)/implant-linux-amd64 ./cmd/implant
	@cd $(FIRMWARE_DIR) && sha256sum implant-linux-* > SHA256SUMS && \
		for f in implant-linux-arm64 implant-linux-armv7 implant-linux-amd64; do \
			printf 'firmware: %-22s %9d bytes  sha256 %s\n' $$f $$(stat -c %s $$f) $$(sha256sum $$f | cut -d' ' -f1); done
	@if [ -n "$(FIRMWARE_VERIFY)" ]; then \
		tmp=$$(mktemp -d); \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 GOCACHE=$$tmp/cache $(GO) build $(FIRMWARE_FLAGS) -o $$tmp/implant-linux-arm64 ./cmd/implant || { rm -rf $$tmp; exit 1; }; \
		a=$$(sha256sum < $(FIRMWARE_DIR)/implant-linux-arm64); b=$$(sha256sum < $$tmp/implant-linux-arm64); \
		chmod -R u+w $$tmp; rm -rf $$tmp; \
		if [ "$$a" != "$$b" ]; then echo "firmware: NOT reproducible: arm64 rebuilt in a clean cache differs"; exit 1; fi; \
		echo "firmware: reproducible (arm64 rebuilt in an empty build cache: identical SHA-256)"; fi

# The architecture diagrams, rendered from their Graphviz sources with
# Debian's graphviz (.ci/extra.sh deps installs it). Without dot, outside
# CI, the diagrams are skipped with a message; in CI it is an error.
DOCS_DIR := build/docs
diagrams:
	@if ! command -v dot >/dev/null; then \
		if [ "$$CI" = true ]; then echo "diagrams: graphviz (dot) is not installed (.ci/extra.sh deps installs it)"; exit 1; fi; \
		echo "diagrams: skipped: graphviz (dot) is not installed (Debian: apt-get install graphviz)"; exit 0; fi; \
	mkdir -p $(DOCS_DIR) && for f in docs/diagrams/*.dot; do \
		dot -Tsvg "$$f" -o $(DOCS_DIR)/$$(basename "$$f" .dot).svg || exit 1; echo "diagrams: $(DOCS_DIR)/$$(basename "$$f" .dot).svg"; done

# The auditor's report: the requirement suite against the kernels (mock
# HAL) and against the built firmware over its wire protocol (the host
# binary, and the arm64 binary under qemu-user when qemu-aarch64-static is
# installed), the tests every threat and hazard names (adversarial and
# end-to-end suites included), model check, property tests, fuzz corpora,
# artefact hashes, SBOM with support status, architecture diagrams
# (graphviz). Writes build/conformance/report.{md,html,pdf} (the PDF printed
# by headless Chromium); exits 1 on any failure.
conformance: firmware
	$(GO) run ./cmd/conformance -out build/conformance -firmware $(FIRMWARE_DIR)
