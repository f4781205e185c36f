package sim

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// scheduleFaults plans the discrete fault injections of the safety phase: the window is cut
// into slots of Every, and each slot draws one of the discrete fault kinds — injected at a time
// drawn within the slot if that kind is on — or none, on word 0. A kind keeps its number
// whichever others are on, so turning one kind off (as the shrinker does) removes exactly its
// injections; a tape of zeros injects nothing, and one fault takes two decisions.
func (s *scenario) scheduleFaults() {
	if len(s.faults.discrete()) == 0 || s.faults.Every <= 0 {
		return
	}
	for slot := time.Duration(0); slot < s.opts.Window; slot += s.faults.Every {
		pick := s.frand.IntN(len(discreteFaults) + 1)
		if pick == 0 || !s.faults.On[discreteFaults[pick-1]] {
			continue
		}
		at := slot + time.Duration(s.frand.Uint64N(uint64(s.faults.Every)))
		if at >= s.opts.Window {
			continue
		}
		k := discreteFaults[pick-1]
		s.w.Schedule(at, func() { s.inject(k) })
	}
}

// inject applies one discrete fault now.
func (s *scenario) inject(k Fault) {
	if s.phase != PhaseSafety {
		return
	}
	applied := false
	switch k {
	case FaultClog:
		applied = s.injectClog()
	case FaultReset:
		applied = s.injectReset()
	case FaultPartition:
		applied = s.injectPartition()
	case FaultCorrupt:
		applied = s.injectCorrupt()
	case FaultCrash:
		applied = s.injectCrash()
	case FaultPause:
		applied = s.injectPause()
	}
	if applied {
		s.stats.Injected[k]++
	}
}

func (s *scenario) randomProc() process {
	ps := s.processes()
	return ps[s.frand.IntN(len(ps))]
}

// randomIP is a node's IP, or (sometimes) the wildcard.
func (s *scenario) randomIP() netip.Addr {
	if s.frand.IntN(8) == 7 {
		return netip.Addr{}
	}
	return s.randomProc().addrIP()
}

func (s *scenario) injectClog() bool {
	from, to := s.randomIP(), s.randomIP()
	until := s.w.Now() + time.Duration(s.frand.Range(1, 50))*time.Millisecond
	s.w.Net.Clog(from, to, until)
	s.noteFault("", "clog %v -> %v until %v", from, to, until)
	return true
}

func (s *scenario) injectReset() bool {
	conns := s.w.Net.Conns()
	if len(conns) == 0 {
		return false
	}
	c := conns[s.frand.IntN(len(conns))]
	end := simnet.Dir(s.frand.IntN(2))
	how := simnet.ResetHow(s.frand.IntN(3))
	s.noteFault("", "reset conn %d (%v, end %v, %v)", c.ID, c.Client, end, how)
	return s.w.Net.Reset(c.ID, end, how)
}

func (s *scenario) injectPartition() bool {
	a, b := s.randomProc(), s.randomProc()
	switch s.frand.IntN(3) {
	case 0:
		s.w.Net.Partition(a.addrIP(), b.addrIP())
		s.noteFault("", "partition %s -> %s", a.label(), b.label())
	case 1:
		s.w.Net.Partition(a.addrIP(), b.addrIP())
		s.w.Net.Partition(b.addrIP(), a.addrIP())
		s.noteFault("", "partition %s <-> %s", a.label(), b.label())
	default:
		s.w.Net.Isolate(a.addrIP())
		s.noteFault("", "isolate %s", a.label())
	}
	heal := s.w.Now() + time.Duration(s.frand.Range(5, 200))*time.Millisecond
	s.w.Schedule(heal, func() {
		s.w.Net.Heal()
		s.w.Trace.Logf(s.w.Now(), "heal partitions and clogs")
		s.w.Trace.AddMark(world.Mark{At: s.w.Now(), Kind: "heal", Text: "heal partitions and clogs"})
	})
	return true
}

func (s *scenario) injectCorrupt() bool {
	st, off, ok := s.tracker.corruptTarget()
	if !ok {
		return false
	}
	bit := uint8(s.frand.IntN(8))
	s.w.Net.Corrupt(st, off, bit)
	s.noteFault("", "corrupt %v byte %d bit %d", st, off, bit)
	return true
}

func (s *scenario) injectPause() bool {
	n := s.randomProc()
	if !n.running() {
		return false
	}
	until := s.w.Now() + time.Duration(s.frand.Range(1, 100))*time.Millisecond
	for _, c := range n.centers() {
		s.w.Pause(c, until)
	}
	s.noteFault(n.incarnation(), "pause until %v", until)
	return true
}

// injectCrash crashes a process (all its sockets vanish, its session state is gone); it
// restarts a little later.
func (s *scenario) injectCrash() bool {
	n := s.randomProc()
	if !n.running() {
		return false
	}
	s.stats.Crashes++
	n.crash()
	return true
}

// crash crashes the node and restarts it a little later, as a restarted OSD: with a new
// nonce, or, like a monitor, the same one.
func (n *simNode) crash() {
	s := n.s
	old := n.m.MyAddr()
	s.noteFault(n.incName(), "crash")
	n.host.Crash()
	s.audit.Remove(n.m)
	for _, c := range n.m.Centers() {
		s.w.Stop(c)
	}
	s.w.Net.RemoveHost(n.ip)
	n.alive = false
	s.check.ForgiveNode(n.name)
	keepNonce := s.frand.Bool()
	restart := s.w.Now() + time.Duration(s.frand.Range(1, 50))*time.Millisecond
	s.w.Schedule(restart, func() { s.restart(n, old, keepNonce) })
}

func (s *scenario) restart(n *simNode, old wire.EntityAddr, keepNonce bool) {
	nonce := uint32(0)
	if keepNonce {
		nonce = old.Nonce
	}
	if err := n.start(nonce); err != nil {
		s.check.Violate(InvNoProgress, int64(s.w.Now()), "restart %s: %v", n.name, err)
		return
	}
	if n.m.MyAddr() == old {
		return
	}
	// Like an OSD map update: peers learn the old instance is gone.
	for _, p := range s.nodes {
		if p != n && p.alive {
			p.m.MarkDown(old)
		}
	}
}

// noteFault logs an injected fault ("inject: …") and marks it on the timeline, on node's lane
// or ("" ) the network's.
func (s *scenario) noteFault(node, format string, args ...any) {
	if !s.w.Trace.Keeping() {
		return
	}
	text := fmt.Sprintf(format, args...)
	if node != "" {
		text = node + " " + text
	}
	s.w.Trace.Logf(s.w.Now(), "inject: %s", text)
	s.w.Trace.AddMark(world.Mark{At: s.w.Now(), Kind: "inject", Node: node, Text: text})
}
