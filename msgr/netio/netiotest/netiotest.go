package netiotest

import (
	"net/netip"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Harness describes the Stack implementation under test.
type Harness struct {
	// NewStacks returns the stacks of a server host and of a client host; they may be the same
	// Stack. It is called once per case, so each case starts from a fresh network. Cleanup of
	// the stacks, if any, is registered on t.
	NewStacks func(t *testing.T) (server, client netio.Stack)
	// ServerIP is the address the server stack listens on.
	ServerIP netip.Addr
	// Pump advances a simulated network by one step: it delivers in-flight bytes and
	// connection events. Nil (or a no-op) for real stacks, where the kernel does it. A non-nil
	// Pump also tells the suite that Poller.Wait never blocks.
	Pump func()
}

// testCase is one conformance check.
type testCase struct {
	name string
	run  func(t *testing.T, h Harness)
}

// cases lists the checks in the order Run runs them.
var cases = []testCase{
	{"ListenPort0", testListenPort0},
	{"AcceptEmpty", testAcceptEmpty},
	{"ConnectAccept", testConnectAccept},
	{"ReadEmpty", testReadEmpty},
	{"CloseIdempotent", testCloseIdempotent},
	{"Echo1MiB", testEcho1MiB},
	{"WritevManyBuffers", testWritevManyBuffers},
	{"WritevEmpty", testWritevEmpty},
	{"Backpressure", testBackpressure},
	{"ShutdownWriteEOF", testShutdownWriteEOF},
	{"CloseEOF", testCloseEOF},
	{"ConnectRefused", testConnectRefused},
	{"ListenerCloseRefuses", testListenerCloseRefuses},
	{"CloseUnreadResets", testCloseUnreadResets},
	{"WriteAfterPeerClose", testWriteAfterPeerClose},
	{"LevelTriggered", testLevelTriggered},
	{"ModifyDropsWrite", testModifyDropsWrite},
	{"DeleteStopsReports", testDeleteStopsReports},
	{"Wake", testWake},
	{"ManyConnections", testManyConnections},
}

// Run runs the whole conformance suite against the stacks h creates, one subtest per case.
func Run(t *testing.T, h Harness) {
	if h.NewStacks == nil {
		t.Fatal("netiotest: Harness.NewStacks is nil")
	}
	if !h.ServerIP.IsValid() {
		t.Fatal("netiotest: Harness.ServerIP is not set")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}
