# The two commands in README.md: `make lab` (the seed lab) and `make test`.
.PHONY: lab test build fuzz

build:
	go build -o bin/kbgp ./cmd/kbgp

lab:
	hack/lab.sh

test:
	hack/test.sh
