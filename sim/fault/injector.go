package fault

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// Process is a simulated machine that faults can partition, pause or crash: a node of the
// pingpong workload, a host of the cluster workload (all its messengers at once).
type Process interface {
	Label() string       // stable name across incarnations, e.g. "osd.1"
	Incarnation() string // the current incarnation, e.g. "osd.1#2"
	IP() netip.Addr
	Running() bool
	Centers() []*event.Center // the event centers of every messenger it runs
	Crash()                   // crash now (sockets and session state gone) and restart later
}

// Counter counts what the injector's frame tracker sees (the simulator's coverage): the
// msgr1 tags written and read, and the evaluations of the invariant it checks (lossy-ack).
type Counter interface {
	check.Counter
	TagWritten(reply bool, tag wire.Tag)
	TagRead(reply bool, tag wire.Tag)
}

// Config is what an Injector injects, when and into what.
type Config struct {
	Faults  *Mix          // the run's mix, read when faults are scheduled and injected
	Window  time.Duration // discrete faults are injected within [0, Window)
	Rand    *detrand.Rand // the fault decisions
	Targets func() []Process
	Active  func() bool // whether faults are injected now (false once healed)
	// Violate reports a wire-level invariant the frame tracker checks (an ACK on a lossy
	// session: check.InvLossyAck).
	Violate func(name, detail string)
	Count   Counter // nil: count nothing
	// Monitor is told the msgr1 conversation of every connection (nil: nobody).
	Monitor Monitor
	// TamperAny lets Tamper rewrite messages on any connection; by default only on signed
	// ones: opened with a cephx authorizer, MSG_AUTH on both sides (a run with cephx has
	// unsigned sessions with its monitor, as Ceph's msgr1 clients do, and a node without
	// MSG_AUTH, as the configuration swarm draws, neither signs nor checks).
	TamperAny bool
	// Tampered is told each message Tamper rewrote: its tid and its new front.
	Tampered func(tid uint64, front []byte)
}

// Injector injects a fault mix into a world: discrete faults (Schedule), connect faults, and,
// through its msgr1 frame tracker, chunks cut at frame boundaries and corruption of
// crc-protected bytes.
type Injector struct {
	cfg     Config
	w       *world.World
	tracker *frameTracker
	// Injected counts the faults injected, by kind: the discrete ones and the connect faults
	// (the continuous ones are the caller's to count; Cuts has the cuts).
	Injected [NumKinds]int
	Crashes  int // crashes injected (Crash faults applied)
}

// New creates the injector of world w: its frame tracker (drawing from a new random source of
// w) shapes and observes every stream of w's network, and connect faults are decided per
// connect attempt when the mix has any.
func New(w *world.World, cfg Config) *Injector {
	cut := detrand.Ratio{Num: 0, Den: 1}
	if cfg.Faults.On[Cuts] {
		cut = cfg.Faults.CutBias
	}
	in := &Injector{cfg: cfg, w: w, tracker: newFrameTracker(w.Rand(), cut)}
	in.tracker.violation = cfg.Violate
	if w.Trace.Keeping() {
		in.tracker.logf = func(format string, args ...any) { w.Trace.Logf(w.Now(), format, args...) }
	}
	in.tracker.cov = cfg.Count
	in.tracker.mon = cfg.Monitor
	in.tracker.tamperOK = func(c *connTrack) bool { return cfg.TamperAny || c.signed }
	in.tracker.tamper = in.tamperWith
	w.Net.SetChunker(in.tracker)
	w.Net.SetObserver(in.tracker)
	if cfg.Faults.On[Refuse] || cfg.Faults.On[Hang] || cfg.Faults.On[AcceptReset] {
		w.Net.SetConnectFault(in.connectFault)
	}
	return in
}

// Cuts is how many chunks the frame tracker cut at a msgr1 boundary.
func (in *Injector) Cuts() int { return in.tracker.cuts }

// connectFault decides, per connect attempt, whether it is refused, hangs or is reset
// right after it is accepted.
func (in *Injector) connectFault(from, to netip.AddrPort) simnet.ConnectFault {
	f := in.cfg.Faults
	if !in.cfg.Rand.Chance(f.ConnectFaults) {
		return simnet.ConnectOK
	}
	type kind struct {
		k  Kind
		cf simnet.ConnectFault
	}
	var kinds []kind
	for _, k := range []kind{{Refuse, simnet.ConnectRefuse}, {Hang, simnet.ConnectHang},
		{AcceptReset, simnet.ConnectResetAfterAccept}} {
		if f.On[k.k] {
			kinds = append(kinds, k)
		}
	}
	pick := in.cfg.Rand.IntN(len(kinds))
	cf := kinds[pick].cf
	in.Injected[kinds[pick].k]++
	in.Note("", "connect %v -> %v: %v", from, to, cf)
	return cf
}

// Schedule plans the discrete fault injections of the safety phase: the window is cut
// into slots of Every, and each slot draws one of the discrete fault kinds — injected at a time
// drawn within the slot if that kind is on — or none, on word 0. A kind keeps its number
// whichever others are on, so turning one kind off (as the shrinker does) removes exactly its
// injections; a tape of zeros injects nothing, and one fault takes two decisions.
func (in *Injector) Schedule() {
	f, window := in.cfg.Faults, in.cfg.Window
	if len(f.discrete()) == 0 || f.Every <= 0 {
		return
	}
	for slot := time.Duration(0); slot < window; slot += f.Every {
		pick := in.cfg.Rand.IntN(len(discreteFaults) + 1)
		if pick == 0 || !f.On[discreteFaults[pick-1]] {
			continue
		}
		at := slot + time.Duration(in.cfg.Rand.Uint64N(uint64(f.Every)))
		if at >= window {
			continue
		}
		k := discreteFaults[pick-1]
		in.w.Schedule(at, func() { in.inject(k) })
	}
	if !f.On[Tamper] {
		return
	}
	for slot := time.Duration(0); slot < window; slot += 4 * f.Every {
		if at := slot + time.Duration(in.cfg.Rand.Uint64N(uint64(4*f.Every))); at < window {
			in.w.Schedule(at, func() { in.inject(Tamper) })
		}
	}
}

// inject applies one discrete fault now.
func (in *Injector) inject(k Kind) {
	if !in.cfg.Active() {
		return
	}
	applied := false
	switch k {
	case Clog:
		applied = in.injectClog()
	case Reset:
		applied = in.injectReset()
	case Partition:
		applied = in.injectPartition()
	case Corrupt:
		applied = in.injectCorrupt()
	case Crash:
		applied = in.injectCrash()
	case Pause:
		applied = in.injectPause()
	case Tamper:
		in.injectTamper() // counts itself: an armed tamper applies later
	}
	if applied {
		in.Injected[k]++
	}
}

func (in *Injector) randomProc() Process {
	ps := in.cfg.Targets()
	return ps[in.cfg.Rand.IntN(len(ps))]
}

// randomIP is a node's IP, or (sometimes) the wildcard.
func (in *Injector) randomIP() netip.Addr {
	if in.cfg.Rand.IntN(8) == 7 {
		return netip.Addr{}
	}
	return in.randomProc().IP()
}

func (in *Injector) injectClog() bool {
	from, to := in.randomIP(), in.randomIP()
	until := in.w.Now() + time.Duration(in.cfg.Rand.Range(1, 50))*time.Millisecond
	in.w.Net.Clog(from, to, until)
	in.Note("", "clog %v -> %v until %v", from, to, until)
	return true
}

func (in *Injector) injectReset() bool {
	conns := in.w.Net.Conns()
	if len(conns) == 0 {
		return false
	}
	c := conns[in.cfg.Rand.IntN(len(conns))]
	end := simnet.Dir(in.cfg.Rand.IntN(2))
	how := simnet.ResetHow(in.cfg.Rand.IntN(3))
	in.Note("", "reset conn %d (%v, end %v, %v)", c.ID, c.Client, end, how)
	return in.w.Net.Reset(c.ID, end, how)
}

func (in *Injector) injectPartition() bool {
	a, b := in.randomProc(), in.randomProc()
	switch in.cfg.Rand.IntN(3) {
	case 0:
		in.w.Net.Partition(a.IP(), b.IP())
		in.Note("", "partition %s -> %s", a.Label(), b.Label())
	case 1:
		in.w.Net.Partition(a.IP(), b.IP())
		in.w.Net.Partition(b.IP(), a.IP())
		in.Note("", "partition %s <-> %s", a.Label(), b.Label())
	default:
		in.w.Net.Isolate(a.IP())
		in.Note("", "isolate %s", a.Label())
	}
	heal := in.w.Now() + time.Duration(in.cfg.Rand.Range(5, 200))*time.Millisecond
	in.w.Schedule(heal, func() {
		in.w.Net.Heal()
		in.w.Trace.Logf(in.w.Now(), "heal partitions and clogs")
		in.w.Trace.AddMark(world.Mark{At: in.w.Now(), Kind: "heal", Text: "heal partitions and clogs"})
	})
	return true
}

func (in *Injector) injectCorrupt() bool {
	st, off, ok := in.tracker.corruptTarget()
	if !ok {
		return false
	}
	bit := uint8(in.cfg.Rand.IntN(8))
	in.w.Net.Corrupt(st, off, bit)
	in.Note("", "corrupt %v byte %d bit %d", st, off, bit)
	return true
}

// injectTamper changes one byte of a message's front still on the path and rewrites the
// footer's front crc to match (Ceph's crc32c, seed 0): the receiver's crcs all check. When no
// message is on the path now, the tamper is armed (at most two wait): the next delivery that
// carries a whole message's front and crcs gets it.
func (in *Injector) injectTamper() bool {
	st, m, ok := in.tracker.tamperTarget(in.cfg.TamperAny)
	if !ok {
		in.tracker.armed = min(in.tracker.armed+1, 2)
		return false
	}
	return in.tamperWith(st, m)
}

// tamperWith tampers with message m of stream st (see injectTamper).
func (in *Injector) tamperWith(st simnet.StreamID, m writtenMsg) bool {
	if !in.cfg.Active() {
		in.tracker.armed = 0
		return false
	}
	start := m.l.Header + wire.HeaderLen
	front, ok := in.w.Net.Undelivered(st, start, int(m.l.FrontEnd-start))
	if !ok {
		return false
	}
	i := in.cfg.Rand.IntN(len(front))
	front[i] ^= byte(1 + in.cfg.Rand.IntN(255))
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], wire.CRC32C(0, front))
	if _, ok := in.w.Net.Undelivered(st, m.l.DataEnd, 4); !ok {
		return false
	}
	in.w.Net.Tamper(st, start, front)
	in.w.Net.Tamper(st, m.l.DataEnd, crc[:])
	if in.cfg.Tampered != nil {
		in.cfg.Tampered(m.tid, front)
	}
	in.Note("", "tamper %v: message tid %d, front byte %d changed, front crc recomputed", st, m.tid, i)
	in.Injected[Tamper]++
	return true
}

func (in *Injector) injectPause() bool {
	n := in.randomProc()
	if !n.Running() {
		return false
	}
	until := in.w.Now() + time.Duration(in.cfg.Rand.Range(1, 100))*time.Millisecond
	for _, c := range n.Centers() {
		in.w.Pause(c, until)
	}
	in.Note(n.Incarnation(), "pause until %v", until)
	return true
}

// injectCrash crashes a process (all its sockets vanish, its session state is gone); it
// restarts a little later.
func (in *Injector) injectCrash() bool {
	n := in.randomProc()
	if !n.Running() {
		return false
	}
	in.Crashes++
	n.Crash()
	return true
}

// Note logs an injected fault ("inject: …") and marks it on the timeline, on node's lane or
// ("") the network's.
func (in *Injector) Note(node, format string, args ...any) {
	if !in.w.Trace.Keeping() {
		return
	}
	text := fmt.Sprintf(format, args...)
	if node != "" {
		text = node + " " + text
	}
	in.w.Trace.Logf(in.w.Now(), "inject: %s", text)
	in.w.Trace.AddMark(world.Mark{At: in.w.Now(), Kind: "inject", Node: node, Text: text})
}

// Release gives the memory the injector's frame tracker kept per connection to the runs made
// after this one. Call it once the run is over: the injector must not be used after it.
func (in *Injector) Release() { in.tracker.release() }
