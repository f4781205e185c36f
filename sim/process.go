package sim

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/sim/fault"
)

// Processes implements harness.Workload: the nodes, in order.
func (p *pingpong) Processes() []fault.Process {
	ps := make([]fault.Process, len(p.nodes))
	for i, n := range p.nodes {
		ps[i] = n
	}
	return ps
}

func (n *simNode) Label() string            { return n.name }
func (n *simNode) Incarnation() string      { return n.incName() }
func (n *simNode) IP() netip.Addr           { return n.ip }
func (n *simNode) Running() bool            { return n.alive }
func (n *simNode) Centers() []*event.Center { return n.m.Centers() }
