// Package explore is fault-point exploration (crimson's FailoverTest, made exhaustive): a small
// deterministic scenario of two messengers — a connector sending messages and a keepalive, an
// acceptor answering each message — run once per fault point, with exactly that fault.
//
// A fault point is a side (connector, acceptor), a socket operation (read, write), a msgr1
// element (banner, addr, connect, connect_reply, in_seq, a session frame's tag, a message's
// header, front, middle, data or footer, an ACK's seq, …), a round (the Nth such element of
// that side, over all its sockets) and an action: reset the socket there (as Ceph's
// ms_inject_socket_failures), stall the stream there for a while, or block it until the
// peer's timeouts fired. The sockets of both sides are wrapped (stack.go): a write or a read
// stops exactly where the point's element begins — found by the simulator's msgr1 frame
// tracker (fault.Injector.Starts, over wire.Walker) — and the point fires when the side
// goes on. Every invariant of the simulator is checked (harness.Run.Drive).
//
// Points are enumerated from the scenario's fault-free run (Enumerate): every element each
// side wrote, up to a number of rounds; every handshake step of both sides is a point, so a
// bug that only a handshake-phase fault triggers is reached. Pairs (EnumeratePairs) add a
// second point after the first: the elements that run wrote after the first point fired.
//
// The package is below the seam: deterministic, one goroutine (internal/lint checks it).
package explore
