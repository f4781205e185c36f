//go:build linux

package main

import (
	"syscall"

	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
)

// realStack is the production stack: epoll, Linux only.
func realStack() (netio.Stack, error) {
	return epoll.New(epoll.Options{}), nil
}

// peakRSS is the process's peak resident set size in bytes (getrusage ru_maxrss, in KiB on
// Linux).
func peakRSS() (int64, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}
