package sim

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/event"
)

// process is a simulated machine that faults can partition, pause or crash: a node of the
// default workload, a host of the cluster workload (all its messengers at once).
type process interface {
	label() string       // stable name across incarnations, e.g. "osd.1"
	incarnation() string // the current incarnation, e.g. "osd.1#2"
	addrIP() netip.Addr
	running() bool
	centers() []*event.Center // the event centers of every messenger it runs
	crash()                   // crash now (sockets and session state gone) and restart later
}

// processes lists what faults can target, in a stable order.
func (s *scenario) processes() []process {
	if s.cl != nil {
		return s.cl.processes()
	}
	ps := make([]process, len(s.nodes))
	for i, n := range s.nodes {
		ps[i] = n
	}
	return ps
}

func (n *simNode) label() string            { return n.name }
func (n *simNode) incarnation() string      { return n.incName() }
func (n *simNode) addrIP() netip.Addr       { return n.ip }
func (n *simNode) running() bool            { return n.alive }
func (n *simNode) centers() []*event.Center { return n.m.Centers() }
