#!/usr/bin/env bash
# The test command (README): installs dependencies, then vet, gofmt and
# the race-enabled test suite, including interop tests against real BIRD,
# FRR and GoBGP in network namespaces (those need root).
set -euo pipefail
cd "$(dirname "$0")/.."

hack/install-deps.sh

echo "== go vet"
go vet ./...

echo "== gofmt"
unformatted=$(find . -name '*.go' -not -path './.git/*' -print0 | xargs -0 gofmt -l)
if [[ -n "$unformatted" ]]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== kube-apiserver, etcd and kubectl for the Kubernetes datastore tests (built once, cached)"
hack/kube-apiserver.sh >/dev/null

echo "== go test -race"
# The full-table replay (577k prefixes over one session, ~25 s) is opt-in for
# quick local runs; the test command always runs it: it is the only test
# that pushes a real full table through a live session.
export KBGP_FULL_TABLE=1
go test -race -count=1 -timeout 40m "$@" ./...

# The benchmark modules are separate Go modules (so the product never
# depends on GoBGP or plotting libraries): vet them, run their unit tests,
# and the route-reflector harness in --quick mode as a smoke test against
# every installed daemon (no times asserted).
for m in bench/codec bench/rr; do
	echo "== $m: go vet, go test"
	(cd "$m" && go mod download && go vet ./... && go test -race -count=1 -short ./...)
done
echo "== bench/rr: harness smoke run (--quick)"
(cd bench/rr && go test -count=1 -run '^TestQuick$' -v . 2>&1 | tail -40)
