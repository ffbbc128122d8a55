#!/usr/bin/env bash
# The main job (README): on a fresh Debian machine, install what the lab
# needs (FRR, iproute2, iptables, ...), build kbgp and bring the seed lab
# up, then check it: probes from the client to every pod and service,
# every node's `kbgp node status`, the router's BGP table, and the
# topology picture (its path is printed). Extra arguments go to
# `kbgp lab up`, e.g. `hack/lab.sh -f examples/two-reflectors.yaml`.
# Needs root. Remove the lab with `bin/kbgp lab down`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
	echo "lab: must run as root (network namespaces, iptables): sudo make lab" >&2
	exit 1
fi
hack/install-deps.sh
go build -o bin/kbgp ./cmd/kbgp
if [[ -e /run/kbgp-lab/state.json ]]; then
	echo "lab: a lab is already up (/run/kbgp-lab/state.json); replacing it"
	bin/kbgp lab down
fi
bin/kbgp lab up "$@"
bin/kbgp lab check
