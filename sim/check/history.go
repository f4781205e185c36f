package check

import (
	"fmt"
	"slices"

	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Model-checked invariants: the recorded histories, checked after the run with porcupine.
const (
	InvFIFO = "fifo-linearizability" // a lossless stream is not a FIFO queue (models.FIFOModel)
	InvKV   = "kv-linearizability"   // the cluster's key-value history is not linearizable (models.KVModel)
)

// Invariants of the cluster workload.
const (
	InvKVLiveness        = "kv-liveness"        // after healing, a client operation was never answered
	InvReplicaDivergence = "replica-divergence" // at the end, a replica's copy differs from its primary's
)

// Names lists every invariant a simulated run can evaluate (for coverage): AllInvariants, the
// model checks and the cluster workload's own.
func Names() []string {
	return append(append([]string(nil), AllInvariants...), InvFIFO, InvKV, InvKVLiveness, InvReplicaDivergence)
}

// Counter counts invariant evaluations: the simulator's coverage implements it.
type Counter interface {
	Evaluated(invariant string, n int)
}

// Histories sees every stream event the Checker is told, and the messengers' send traces
// (Traced): it records lossless sessions for the FIFO model and counts the invariant
// evaluations the Checker makes. After the run, CheckModels checks the histories. A session is a stream (sender → receiver node) to one peer address, from one
// sender connection (an incarnation's connection, see SessionID) at one priority when the
// sender says which: a message is queued on the session of the connection it was sent on, so
// messages a stale sender still sends to a peer's old instance are not expected in the new
// instance's queue, nor a restarted sender's messages behind its previous incarnation's.
// A reset reported on a stream (or a crash) forgives every session of the stream, as the
// Checker does. A nil *Histories records nothing.
type Histories struct {
	check *Checker
	now   func() int64
	fifo  *models.FIFOHistory
	cov   Counter
	// A lossless message told to the Checker and not yet on a session is pending (msgInfo),
	// and its record names its session once it is on one (msgInfo.session).
	parts map[streamKey][]string // stream → its sessions, in order of first use
	names map[sessionKey]string  // a session's name, formatted once
	// the session onSession named last (sends come in runs on one session)
	lastKey  sessionKey
	lastName string
	lastSet  bool
	tally    tally // evaluations not yet given to cov (Checker.FlushCounts)
}

// sessionKey is what names a session: the order key and the peer address.
type sessionKey struct {
	order orderKey
	peer  wire.EntityAddr
}

// Record starts recording k's lossless sessions as histories, stamped with now(), and
// counting k's invariant evaluations in cov.
func (k *Checker) Record(now func() int64, cov Counter) *Histories {
	if r := k.spare.rec; r != nil {
		// The previous run's recorder (see Reset): its maps and history's storage, emptied.
		k.spare.rec = nil
		fifo, parts, names := r.fifo, r.parts, r.names
		fifo.Reset()
		clear(parts)
		clear(names)
		*r = Histories{check: k, now: now, fifo: fifo, cov: cov, parts: parts, names: names}
		k.rec = r
		return r
	}
	k.rec = &Histories{check: k, now: now, fifo: models.NewFIFOHistory(), cov: cov,
		parts: map[streamKey][]string{}, names: map[sessionKey]string{}}
	return k.rec
}

// sent records a lossless message told to the Checker, with the sender connection and
// priority it was sent on (ok.conn 0: not known).
func (r *Histories) sent(info *msgInfo, lossless bool) {
	if r != nil && lossless {
		info.pending = true
	}
}

// onSession records that message id went to the session with peer (from the messenger's
// send or drop trace): it is enqueued there.
func (r *Histories) onSession(id uint64, peer wire.EntityAddr) {
	info, found := r.check.msgs.get(id)
	if !found || !info.pending {
		return
	}
	info.pending = false
	ok := info.order
	key := ok.stream
	sk := sessionKey{ok, peer}
	p, named := r.lastName, r.lastSet && sk == r.lastKey // runs of sends go to one session
	if !named {
		p, named = r.names[sk]
		r.lastKey, r.lastName, r.lastSet = sk, p, named
	}
	if !named {
		p = fmt.Sprintf("%v@%v", key, peer)
		if ok.conn != 0 {
			// one queue per sender connection and priority: the order the messenger promises
			p = fmt.Sprintf("%s s%x p%d", p, ok.conn, ok.prio)
		}
		r.names[sk] = p
		r.lastKey, r.lastName, r.lastSet = sk, p, true
		if !slices.Contains(r.parts[key], p) {
			r.parts[key] = append(r.parts[key], p)
		}
	}
	info.session = p
	r.fifo.Send(p, id, r.now())
}

// Traced looks at a messenger trace event for the sessions messages go to.
func (r *Histories) Traced(ev msgr.TraceEvent) {
	if r != nil && (ev.Kind == msgr.TraceSend || ev.Kind == msgr.TraceDrop) && ev.Msg != nil && ev.Conn != nil {
		r.onSession(ev.Msg.Header.Tid, ev.Conn.PeerAddr())
	}
}

// dispatched records a dispatch; the Checker evaluates three invariants on each (and
// whether it was sent at all, see lookedUp).
func (r *Histories) dispatched(info *msgInfo, id uint64, rcv string, lossless bool) {
	if r == nil {
		return
	}
	order := tallyLossyOrder
	if lossless {
		order = tallyLosslessOrder
		if p := info.session; p != "" {
			r.fifo.Deliver(p, id, rcv, r.now())
		}
	}
	r.tally.add(tallyCorruptDelivery)
	r.tally.add(tallyDuplicate)
	r.tally.add(order)
}

// count tallies one evaluation of a tallied invariant (nil-safe).
func (r *Histories) count(id tallyID) {
	if r != nil {
		r.tally.add(id)
	}
}

// lookedUp counts the Checker's check that a dispatched message was sent at all.
func (r *Histories) lookedUp() { r.count(tallyUnknownMessage) }

func (r *Histories) forgive(key streamKey, lossless bool) {
	if r == nil || !lossless {
		return
	}
	for _, p := range r.parts[key] {
		r.fifo.Forgive(p, r.now())
	}
}

func (r *Histories) dropped(info *msgInfo, id uint64, lossless bool) {
	if r == nil || !lossless {
		return
	}
	if p := info.session; p != "" {
		r.fifo.Drop(p, id, r.now())
	}
}

// finish records the end-of-run loss check of every lossless stream.
func (r *Histories) finish(lossless int) {
	if r != nil {
		r.tally.flush(r.cov)
		r.fifo.Drain(r.now())
		r.cov.Evaluated(InvLosslessLoss, lossless)
	}
}
