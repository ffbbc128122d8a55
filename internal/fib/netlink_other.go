//go:build !linux

package fib

import (
	"errors"
	"runtime"
)

// NewNetlink is only available on Linux.
func NewNetlink(nsName string) (Kernel, error) {
	return nil, errors.New("fib: kernel route programming needs Linux, not " + runtime.GOOS)
}
