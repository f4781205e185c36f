// Package msgr is a Go implementation of Ceph's AsyncMessenger speaking messenger protocol v1
// ("msgr1", banner "ceph v027") byte for byte.
//
// A Messenger is created with a network Stack (msgr/netio/epoll for real TCP, simnet in
// simulation) and a Runtime that drives its event centers (event.GoRuntime in production, the
// simulator's scheduler in simulation). Its life follows Ceph's: New, Bind, Start, then the
// first AddDispatcherHead/Tail makes it ready (it starts listening and dispatching);
// ConnectTo/SendTo/Connection.SendMessage send; MarkDown and Shutdown stop; Wait waits for the
// end.
//
// Everything that touches a connection's protocol state runs on the event center that owns
// the connection; calls from other goroutines become posted events, so the same code path
// runs in both worlds and protocol state needs no lock of its own. Dispatchers are called
// without any messenger lock held: fast dispatch on the connection's center, in arrival order;
// normal dispatch from the DispatchQueue's center, by priority.
//
// Policies (package proto) say per peer type whether sessions are lossy, who reconnects and
// which features are required; the defaults are Ceph's.
package msgr
