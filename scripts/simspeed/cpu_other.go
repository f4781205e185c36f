//go:build !unix

package main

import "time"

var started = time.Now()

// cpuSeconds falls back to wall time where getrusage is missing: the ratios then hold only
// on an otherwise idle machine.
func cpuSeconds() float64 { return time.Since(started).Seconds() }
