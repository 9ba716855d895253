#!/usr/bin/env bash
# CI for the board firmware and the conformance report (issue 6), called by
# .ci/run. Installs what its checks need (idempotently: only what is missing)
# and runs them:
#   1. make firmware   - reproducible cross builds (linux/arm64, armv7, amd64),
#                        with a second arm64 build in a fresh build cache whose
#                        hash must be identical;
#   2. the qemu-user smoke test and the headless-Chromium rendering test
#      (Go tests that cannot skip when CI=true);
#   3. make conformance - kernels via the mock HAL, the built firmware over
#                        its wire protocol (host binary and arm64 under qemu),
#                        the threat and hazard tests, report.md / report.html /
#                        report.pdf (headless Chromium) / SBOM / diagrams
#                        (graphviz) in build/conformance.
#
#   .ci/extra.sh deps    only install the packages
#   .ci/extra.sh         install, then run everything above
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v qemu-aarch64-static >/dev/null || need_apt+=(qemu-user-static)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v dot >/dev/null || need_apt+=(graphviz)
command -v pdftotext >/dev/null || need_apt+=(poppler-utils)
command -v make >/dev/null || need_apt+=(make)
command -v git >/dev/null || need_apt+=(git)
if [ ${#need_apt[@]} -gt 0 ]; then
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need_apt[@]}"
fi
[ "${1:-}" = deps ] && exit 0

t0=$(date +%s)
make firmware FIRMWARE_VERIFY=1
go test -count=1 -v -run 'TestFirmwareUnderQEMU|TestReportRendersInChromium' ./conformance/...
make conformance
echo "extra: done in $(( $(date +%s) - t0 ))s"
