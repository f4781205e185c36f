// Package netiotest is the conformance suite for netio.Stack implementations: the real one
// (msgr/netio/epoll over loopback) and the simulated one (simnet) must both pass Run.
//
// The suite drives both ends of every connection from the test goroutine, with one Poller per
// stack. It never relies on Poller.Wait blocking: every wait is a bounded loop that calls
// Harness.Pump (to advance a simulated network) and then Wait with a short timeout, and fails
// after a bounded number of rounds or of wall-clock time. It never sleeps to wait for the
// network. Only the Wake case starts goroutines, and only for real stacks (Pump == nil).
//
// Usage, from an implementation's test:
//
//	func TestConformance(t *testing.T) {
//		netiotest.Run(t, netiotest.Harness{
//			NewStacks: func(t *testing.T) (netio.Stack, netio.Stack) { return srv, cli },
//			ServerIP:  netip.MustParseAddr("127.0.0.1"),
//		})
//	}
package netiotest
