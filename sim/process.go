package sim

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/sim/fault"
)

// processes lists what faults can target, in a stable order.
func (s *scenario) processes() []fault.Process {
	if s.cl != nil {
		return s.cl.processes()
	}
	ps := make([]fault.Process, len(s.nodes))
	for i, n := range s.nodes {
		ps[i] = n
	}
	return ps
}

func (n *simNode) Label() string            { return n.name }
func (n *simNode) Incarnation() string      { return n.incName() }
func (n *simNode) IP() netip.Addr           { return n.ip }
func (n *simNode) Running() bool            { return n.alive }
func (n *simNode) Centers() []*event.Center { return n.m.Centers() }
