//go:build !linux

// Command msgr-bench measures the real messenger stack (epoll) on loopback, and the
// simulator's speed. It is Linux only: elsewhere it says so and exits 1.
package main

import (
	"fmt"
	"os"
	"runtime"
)

func main() {
	fmt.Fprintf(os.Stderr, "msgr-bench: Linux only (it measures the epoll stack and reads getrusage and /proc); this is %s\n", runtime.GOOS)
	os.Exit(1)
}
