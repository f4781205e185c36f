//go:build canary

package canary

import "sync/atomic"

// Enabled reports whether this is a canary build (-tags canary): a canary can be selected.
const Enabled = true

// selected is the canary in force. It is atomic so that a test may select a canary while
// goroutines of an earlier real-TCP run are still winding down.
var selected atomic.Uint32

func init() { selected.Store(uint32(fromEnv())) }

// On reports whether canary k is selected.
func On(k Kind) bool { return Kind(selected.Load()) == k }

// Selected returns the canary in force (None for the real code).
func Selected() Kind { return Kind(selected.Load()) }

// Set selects canary k (None: the real code) and returns the one it replaces. Select one
// before starting what it should break, and restore the previous one after.
func Set(k Kind) Kind {
	if k >= numKinds {
		panic("canary: unknown " + k.String())
	}
	return Kind(selected.Swap(uint32(k)))
}
