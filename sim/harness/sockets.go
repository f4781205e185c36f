package harness

import (
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/simnet"
)

// Sockets is one process's socket-failure injection (Ceph's ms_inject_socket_failures)
// across its incarnations: each incarnation's stack is its host, wrapped in an injector that
// fails one in N socket operations when the run injects socket failures. The run counts what
// every injector injected, and turns them off when it heals.
type Sockets struct {
	r       *Run
	inj     *inject.Stack // the current incarnation's (nil: none)
	earlier uint64        // failures injected into earlier incarnations
}

// NewSockets registers a process's socket-failure injection.
func (r *Run) NewSockets() *Sockets {
	s := &Sockets{r: r}
	r.sockets = append(r.sockets, s)
	return s
}

// Stack is a new incarnation's stack over host: host itself, or, when the run injects socket
// failures, host wrapped in an injector (with a new random source of the world) at the
// run's current rate (SocketFailures).
func (s *Sockets) Stack(host *simnet.Host) netio.Stack {
	s.retire()
	if !s.r.Faults.On[fault.SocketFailures] {
		return host
	}
	return s.Inject(host, s.r.SocketFailures())
}

// Inject is a new incarnation's stack over host, wrapped in an injector (with a new random
// source of the world) that fails one in rate socket operations: for workloads that choose
// their own rate.
func (s *Sockets) Inject(host *simnet.Host, rate uint64) netio.Stack {
	s.retire()
	s.inj = inject.New(host, inject.Options{SocketFailures: rate, Rand: s.r.W.Rand()})
	return s.inj
}

// SetRate sets the current injector's rate (0: no more failures).
func (s *Sockets) SetRate(rate uint64) {
	if s.inj != nil {
		s.inj.SetSocketFailures(rate)
	}
}

// Injected is how many socket failures every incarnation got.
func (s *Sockets) Injected() uint64 {
	n := s.earlier
	if s.inj != nil {
		n += s.inj.Injected()
	}
	return n
}

// retire ends the current incarnation's injection.
func (s *Sockets) retire() {
	if s.inj != nil {
		s.earlier += s.inj.Injected()
		s.inj = nil
	}
}

// SocketFailures is the socket-failure rate for an injector created now: the configured one
// while faults are injected, 0 once healed (a process restarted after the heal must not bring
// injected failures back: cluster seed 434 of -workload large kept failing a lossless session's
// reconnects after healing, until the step budget ran out).
func (r *Run) SocketFailures() uint64 {
	if r.Phase == PhaseSafety {
		return r.Faults.SocketFailures
	}
	return 0
}
