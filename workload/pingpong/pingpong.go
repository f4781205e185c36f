package pingpong

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

// Config shapes the workload.
type Config struct {
	OSDs     int           // OSD-like nodes, lossless_peer among themselves (at least 1)
	Clients  int           // client nodes, lossy toward the OSDs
	Messages int           // messages each sender queues on each of its streams
	Window   time.Duration // sends are spread over it (the safety phase)
}

// Workload is the pingpong workload on one simulated run.
type Workload struct {
	h      *harness.Run
	cfg    Config
	nodes  []*node
	byAddr map[wire.EntityAddr]*node // every address any incarnation had
}

// nameOf is name.String(), without formatting it when it is one of the nodes' names.
func (p *Workload) nameOf(name wire.EntityName) string {
	for _, n := range p.nodes {
		if n.ename == name {
			return n.name
		}
	}
	return name.String()
}

// New is the workload cfg on h (harness.Run.Drive runs it).
func New(h *harness.Run, cfg Config) *Workload {
	cfg.OSDs = max(cfg.OSDs, 1)
	return &Workload{h: h, cfg: cfg, byAddr: map[wire.EntityAddr]*node{}}
}

// Build implements harness.Workload: the OSDs, the clients, and every send.
func (p *Workload) Build() error {
	for i := 0; i < p.cfg.OSDs; i++ {
		if err := p.addNode(wire.NewName(wire.EntityOSD, int64(i)), true); err != nil {
			return err
		}
	}
	for i := 0; i < p.cfg.Clients; i++ {
		if err := p.addNode(wire.NewName(wire.EntityClient, int64(4100+i)), false); err != nil {
			return err
		}
	}
	p.h.LogFaults()
	p.scheduleSends()
	p.scheduleKeepalives()
	return nil
}

// scheduleKeepalives: with the keepalive knob (harness.Knobs.Keepalive), every node that is
// up sends a keepalive on each of its connections that often during the window.
func (p *Workload) scheduleKeepalives() {
	p.h.ScheduleKeepalives(p.cfg.Window, len(p.nodes), func(i int) *msgr.Messenger {
		if n := p.nodes[i]; n.alive {
			return n.m
		}
		return nil
	})
}

func (p *Workload) addNode(name wire.EntityName, osd bool) error {
	idx := len(p.nodes)
	n := &node{p: p, ename: name, name: name.String(), idx: idx, osd: osd, fast: p.h.Rand.Bool(),
		ip: netip.AddrFrom4([4]byte{10, 0, 0, byte(idx + 1)}), sockets: p.h.NewSockets()}
	p.nodes = append(p.nodes, n)
	return n.start(0)
}

// scheduleSends spreads every send over the window: each OSD sends to each other OSD, each
// client to each OSD.
func (p *Workload) scheduleSends() {
	for _, from := range p.nodes {
		for _, to := range p.nodes {
			if from == to || !to.osd {
				continue
			}
			send := func() { from.sendTo(to) } // one closure per stream, not per message
			for i := 0; i < p.cfg.Messages; i++ {
				at := time.Duration(p.h.Rand.Uint64N(uint64(p.cfg.Window)))
				p.h.W.Schedule(at, send)
			}
		}
	}
}

// Safety implements harness.Workload: run until every send and fault was issued.
func (p *Workload) Safety() bool {
	if err := p.h.RunUntil(p.h.AllIssued, p.cfg.Window+time.Minute); err != nil {
		p.h.StepFailed(check.InvNoProgress, err, "safety phase")
		return false
	}
	return true
}

// Liveness implements harness.Workload: heal every fault; every lossless message must arrive
// within the bound.
func (p *Workload) Liveness() {
	h := p.h
	h.Heal()
	// Checked when the world is quiet (the next step would advance virtual time).
	done := func() bool { return p.settled() && h.Check.PendingLossless() == 0 }
	if err := h.RunUntil(done, h.W.Now()+h.Cfg.Liveness); err != nil {
		h.StepFailedWith(check.InvLiveness, err, func() string {
			return fmt.Sprintf("%d lossless messages still undelivered, %d unsettled after healing",
				h.Check.PendingLossless(), h.Unsettled(p.live))
		})
	}
}

// settled reports whether nothing is in flight: no network transfer pending, no center with
// work, no connection with queued or unacknowledged messages.
func (p *Workload) settled() bool { return p.h.W.Quiet() && p.h.Unsettled(p.live) == 0 }

// live yields the messengers of the nodes that are up.
func (p *Workload) live(yield func(*msgr.Messenger) bool) {
	for _, n := range p.nodes {
		if n.alive && !yield(n.m) {
			return
		}
	}
}

// Finish implements harness.Workload: nothing beyond the loss check.
func (p *Workload) Finish() {}

// Shutdown implements harness.Workload: every live messenger shuts down.
func (p *Workload) Shutdown() { p.h.ShutdownAll(p.live) }

// Models implements harness.Workload: the lossless sessions are model-checked.
func (p *Workload) Models() (bool, *models.KVHistory) { return true, nil }

// Report implements harness.Workload: nothing to add.
func (p *Workload) Report() string { return "" }
