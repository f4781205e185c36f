//go:build !linux

package main

import (
	"errors"
	"runtime"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// errLinuxOnly is what ping, serve and peer report off Linux: the real stack is epoll.
var errLinuxOnly = errors.New("the real stack (epoll) is Linux only; this is " + runtime.GOOS + " (decode works everywhere, and msgr-sim runs the messenger in the simulator)")

// realStack reports that the real stack does not exist here.
func realStack() (netio.Stack, error) {
	return nil, errLinuxOnly
}

// peakRSS is not measured off Linux.
func peakRSS() (int64, bool) {
	return 0, false
}
