package sim

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/harness"
)

// pingpong is the default workload: OSD-like nodes exchanging lossless messages with each
// other (simultaneous connects race), clients sending lossy messages to every OSD, which
// answers each one. Sends are spread over the safety window; after the heal every lossless
// message must arrive.
type pingpong struct {
	h        *harness.Run
	osds     int // at least 1
	clients  int
	messages int // per stream
	window   time.Duration
	nodes    []*simNode
	byAddr   map[wire.EntityAddr]*simNode // every address any incarnation had
}

func newPingpong(h *harness.Run, opts Options) *pingpong {
	return &pingpong{h: h, osds: opts.OSDs, clients: opts.Clients, messages: opts.Messages, window: opts.Window,
		byAddr: map[wire.EntityAddr]*simNode{}}
}

// Build implements harness.Workload: the OSDs, the clients, and every send.
func (p *pingpong) Build() error {
	for i := 0; i < p.osds; i++ {
		if err := p.addNode(wire.NewName(wire.EntityOSD, int64(i)), true); err != nil {
			return err
		}
	}
	for i := 0; i < p.clients; i++ {
		if err := p.addNode(wire.NewName(wire.EntityClient, int64(4100+i)), false); err != nil {
			return err
		}
	}
	p.h.LogFaults()
	p.scheduleSends()
	return nil
}

func (p *pingpong) addNode(name wire.EntityName, osd bool) error {
	idx := len(p.nodes)
	n := &simNode{p: p, ename: name, name: name.String(), idx: idx, osd: osd, fast: p.h.Rand.Bool(),
		ip: netip.AddrFrom4([4]byte{10, 0, 0, byte(idx + 1)}), sockets: p.h.NewSockets()}
	p.nodes = append(p.nodes, n)
	return n.start(0)
}

// scheduleSends spreads every send over the window: each OSD sends to each other OSD, each
// client to each OSD.
func (p *pingpong) scheduleSends() {
	for _, from := range p.nodes {
		for _, to := range p.nodes {
			if from == to || !to.osd {
				continue
			}
			for i := 0; i < p.messages; i++ {
				at := time.Duration(p.h.Rand.Uint64N(uint64(p.window)))
				from, to := from, to
				p.h.W.Schedule(at, func() { from.sendTo(to) })
			}
		}
	}
}

// Safety implements harness.Workload: run until every send and fault was issued.
func (p *pingpong) Safety() bool {
	if err := p.h.RunUntil(p.h.AllIssued, p.window+time.Minute); err != nil {
		p.h.StepFailed(check.InvNoProgress, err, "safety phase")
		return false
	}
	return true
}

// Liveness implements harness.Workload: heal every fault; every lossless message must arrive
// within the bound.
func (p *pingpong) Liveness() {
	h := p.h
	h.Heal()
	// Checked when the world is quiet (the next step would advance virtual time).
	done := func() bool { return p.settled() && h.Check.PendingLossless() == 0 }
	if err := h.RunUntil(done, h.W.Now()+h.Cfg.Liveness); err != nil {
		h.StepFailed(check.InvLiveness, err, fmt.Sprintf("%d lossless messages still undelivered, %d unsettled after healing",
			h.Check.PendingLossless(), h.Unsettled(p.live)))
	}
}

// settled reports whether nothing is in flight: no network transfer pending, no center with
// work, no connection with queued or unacknowledged messages.
func (p *pingpong) settled() bool { return p.h.W.Quiet() && p.h.Unsettled(p.live) == 0 }

// live yields the messengers of the nodes that are up.
func (p *pingpong) live(yield func(*msgr.Messenger) bool) {
	for _, n := range p.nodes {
		if n.alive && !yield(n.m) {
			return
		}
	}
}

// Finish implements harness.Workload: nothing beyond the loss check.
func (p *pingpong) Finish() {}

// Shutdown implements harness.Workload: every live messenger shuts down.
func (p *pingpong) Shutdown() { p.h.ShutdownAll(p.live) }

// Models implements harness.Workload: the lossless sessions are model-checked.
func (p *pingpong) Models() (bool, *models.KVHistory) { return true, nil }

// Report implements harness.Workload: nothing to add.
func (p *pingpong) Report() string { return "" }
