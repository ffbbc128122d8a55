#!/usr/bin/env bash
# The main job (README): builds kbgp and brings the seed lab up.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/install-deps.sh
go build -o bin/kbgp ./cmd/kbgp
if ! bin/kbgp lab --help >/dev/null 2>&1; then
	echo "lab not yet available: the seed lab lands with the lab issue; 'make test' runs everything that exists" >&2
	exit 0
fi
bin/kbgp lab up "$@"
bin/kbgp lab check
