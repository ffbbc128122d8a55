# The two commands in README.md: `make lab` (the seed lab) and `make test`.
.PHONY: lab test build fuzz bench

build:
	go build -o bin/kbgp ./cmd/kbgp

lab:
	hack/lab.sh

test:
	hack/test.sh

# Route reflector benchmark (bench/rr): kbgp vs BIRD, FRR and GoBGP, each in
# its own network namespace; root. Results go to bench/results/.
# `make bench ARGS=--quick` is the CI smoke size (under 5 minutes).
bench:
	cd bench/rr && go build -o ../../bin/rrbench . && ../../bin/rrbench $(ARGS)
