#!/usr/bin/env bash
# Installs what kbgp's tests and lab need on a fresh Debian machine:
# the BGP daemons used for interop tests and the lab (BIRD 2, FRR, GoBGP),
# network tools, and the Go modules. Idempotent; skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(bird2 frr gobgpd iproute2 iputils-ping iptables nftables tcpdump conntrack ipset procps librsvg2-bin)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
	else
		echo "install-deps: apt-get install ${missing[*]}"
		apt-get update -q
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
	fi
fi

if ! command -v go >/dev/null; then
	echo "install-deps: Go toolchain not found on PATH (need Go >= 1.26)" >&2
	exit 1
fi
go mod download
