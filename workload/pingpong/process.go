package pingpong

import (
	"net/netip"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/sim/fault"
)

// Processes implements harness.Workload: the nodes, in order.
func (p *Workload) Processes() []fault.Process {
	ps := make([]fault.Process, len(p.nodes))
	for i, n := range p.nodes {
		ps[i] = n
	}
	return ps
}

func (n *node) Label() string            { return n.name }
func (n *node) Incarnation() string      { return n.incName() }
func (n *node) IP() netip.Addr           { return n.ip }
func (n *node) Running() bool            { return n.alive }
func (n *node) Centers() []*event.Center { return n.m.Centers() }
