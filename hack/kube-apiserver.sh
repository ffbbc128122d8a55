#!/usr/bin/env bash
# Installs (idempotently, cached by version) the binaries that the
# Kubernetes datastore integration tests run against a real API server:
#
#   kube-apiserver and kubectl, built from the Go module proxy
#   (k8s.io/kubernetes at KBGP_KUBE_VERSION) in a throw-away module so the
#   product's go.mod stays clean, and etcd (Debian's etcd-server package).
#
# The result is a directory holding kube-apiserver, kubectl and etcd; its
# path is printed on the last line of stdout, and it is the directory the
# tests look for (KBGP_KUBE_ASSETS, default ~/.cache/kbgp/kube/<version>).
#
# Usage: hack/kube-apiserver.sh            build if missing, print the dir
#        hack/kube-apiserver.sh --check    exit 0 if cached, 1 otherwise
#
# A cold build takes about 7 minutes on 2 cores and runs under nice -n 19.
set -euo pipefail

V=${KBGP_KUBE_VERSION:-v1.34.4}
CACHE=${KBGP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kbgp}
ASSETS=${KBGP_KUBE_ASSETS:-$CACHE/kube/$V}
BUILD=$CACHE/kube-build/$V

have() { [[ -x "$ASSETS/kube-apiserver" && -x "$ASSETS/kubectl" && -x "$ASSETS/etcd" ]]; }

if [[ ${1:-} == --check ]]; then
	have && exit 0 || exit 1
fi
if have; then
	echo "$ASSETS"
	exit 0
fi

mkdir -p "$ASSETS" "$BUILD"

# etcd: Debian's etcd-server (3.4) is accepted by kube-apiserver 1.34.
if [[ ! -x "$ASSETS/etcd" ]]; then
	if ! command -v etcd >/dev/null; then
		if [[ $(id -u) -ne 0 ]]; then
			echo "kube-apiserver.sh: etcd not found; install Debian package etcd-server (needs root)" >&2
			exit 1
		fi
		echo "kube-apiserver.sh: apt-get install etcd-server" >&2
		apt-get update -q >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends etcd-server >&2
	fi
	ln -sf "$(command -v etcd)" "$ASSETS/etcd"
fi

# kube-apiserver and kubectl from k8s.io/kubernetes. Its go.mod maps every
# k8s.io/* staging module to ./staging/src/...; we map each to the published
# v0.X.Y of the same release instead.
if [[ ! -x "$ASSETS/kube-apiserver" || ! -x "$ASSETS/kubectl" ]]; then
	minor=${V#v1.}
	minor=${minor%%.*}
	staging_v="v0.${V#v1.}"
	cd "$BUILD"
	mod=$(go mod download -json "k8s.io/kubernetes@$V" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	if [[ -z "$mod" || ! -f "$mod" ]]; then
		echo "kube-apiserver.sh: could not download k8s.io/kubernetes@$V" >&2
		exit 1
	fi
	staging=$(sed -n '/^replace (/,/^)/p' "$mod" | awk '/=>/ {print $1}')
	{
		echo "module kbgp.local/kubebuild"
		echo
		echo "go 1.24.0"
		echo
		echo "require k8s.io/kubernetes $V"
		echo
		echo "replace ("
		for m in $staging; do echo "	$m => $m $staging_v"; done
		echo ")"
	} >go.mod
	printf '//go:build tools\n\npackage kubebuild\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' >tools.go
	GOFLAGS=-mod=mod nice -n 19 go mod tidy >&2
	ld="-X k8s.io/component-base/version.gitVersion=$V -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	for cmd in kube-apiserver kubectl; do
		echo "kube-apiserver.sh: building $cmd $V (several minutes)" >&2
		nice -n 19 go build -ldflags "$ld" -o "$BUILD/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
		mv "$BUILD/$cmd.tmp" "$ASSETS/$cmd"
	done
fi

have
echo "$ASSETS"
