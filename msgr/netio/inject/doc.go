// Package inject wraps a netio.Stack to inject Ceph-style faults on the real stack (and in
// simulation):
//
//   - socket failures, as Ceph's ms_inject_socket_failures: on a read or a send attempt, with
//     probability 1/N, the socket is shut down in both directions, so that attempt and
//     everything after it fails and the connection faults;
//   - internal delays, as Ceph's ms_inject_internal_delays: the messenger's event center is
//     blocked for a fixed time at the points where Ceph's inject_delay() sleeps (the stack
//     implements netio.InternalDelayer), to widen the race windows around accept, replace
//     and open;
//   - cuts: a test cuts every live socket at a moment of its choosing (CutAll).
//
// Dispatch delays (ms_inject_delay_*) are not a stack matter: see msgr.Config.InjectDelay.
//
// Wrap returns the stack itself when nothing is to be injected, so the production path pays
// nothing when injection is off.
package inject
