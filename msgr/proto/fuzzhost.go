package proto

import (
	"errors"
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// fuzzHost is the Host of a connection driven by the fuzz targets of fuzzconn.go: one socket
// at a time, a virtual clock, a one-entry registry for the accept decision, and throttles that
// count in the open. It checks what the core reports as it reports it; the first problem it
// sees is kept in problem.
type fuzzHost struct {
	cfg      *fuzzConfig
	c        *Conn
	now      time.Duration
	rand     *detrand.Rand
	gseq     uint32
	registry Existing // what the accept decision sees for the peer's address

	sockOpen bool // the connection holds a live socket
	dialing  bool // it asked for a socket that the driver has not given it yet

	th      [3]*fuzzThrottle // messages, bytes, dispatch
	held    []Reservation    // deliveries whose dispatch has not finished
	lastSeq uint64           // the last seq delivered in the current session
	problem error

	delivered int    // messages delivered (for the tests of the harness)
	reached   uint32 // bit s set: state s was entered
}

func newFuzzHost(cfg *fuzzConfig) *fuzzHost {
	h := &fuzzHost{cfg: cfg, rand: detrand.NewSeeded(1), registry: cfg.existing}
	for i, name := range []string{"messages", "bytes", "dispatch"} {
		h.th[i] = &fuzzThrottle{h: h, name: name}
	}
	if cfg.smallThrottles {
		h.th[0].max, h.th[1].max, h.th[2].max = 2, 600, 1000
	}
	return h
}

// failf records a problem (the first one wins).
func (h *fuzzHost) failf(format string, args ...any) {
	if h.problem == nil {
		h.problem = fmt.Errorf(format, args...)
	}
}

func (h *fuzzHost) throttles() Throttles {
	return Throttles{Messages: h.th[0], Bytes: h.th[1], Dispatch: h.th[2]}
}

// releaseHeld finishes the dispatch of every held delivery.
func (h *fuzzHost) releaseHeld() {
	for _, r := range h.held {
		r.Release()
	}
	h.held = h.held[:0]
}

func (h *fuzzHost) Now() time.Duration  { return h.now }
func (h *fuzzHost) Wall() time.Time     { return time.Unix(1700000000, 0).Add(h.now) }
func (h *fuzzHost) Rand() *detrand.Rand { return h.rand }

func (h *fuzzHost) StartConnect() {
	h.sockOpen, h.dialing = false, true
}

func (h *fuzzHost) CloseTransport() {
	h.sockOpen, h.dialing = false, false
}

func (h *fuzzHost) Authorizer(peer wire.EntityType) (uint32, []byte) {
	if peer == wire.EntityMon && h.cfg.name.Type != wire.EntityMon {
		return wire.AuthUnknown, nil
	}
	a := wire.AuthNoneAuthorizer{Name: wire.AuthEntityName{Type: uint32(h.cfg.name.Type), ID: "fuzz"}, GlobalID: 7}
	return wire.AuthNone, a.AppendEncoded(nil)
}

func (h *fuzzHost) MyAddr() wire.EntityAddr                   { return h.cfg.myAddr }
func (h *fuzzHost) LearnAddr(wire.EntityAddr) wire.EntityAddr { return h.cfg.myAddr }

func (h *fuzzHost) GlobalSeq(atLeast uint32) uint32 {
	h.gseq = max(h.gseq, atLeast) + 1
	return h.gseq
}

func (h *fuzzHost) PolicyFor(t wire.EntityType) (Policy, Throttles) {
	return h.cfg.policyFor(t), h.throttles()
}

// AcceptConnect is what msgr does: verify the authorizer (auth none), decide against the
// registry, carry out the side effects (a lossy existing session is stopped and the new one
// opens), and register an opened session.
func (h *fuzzHost) AcceptConnect(req *ConnectRequest) Decision {
	in := DecideInput{
		Connect: req.Connect, Policy: req.Policy, PeerAddr: req.PeerAddr, MyAddr: h.cfg.myAddr,
		ProtocolVersion: ProtocolVersion(h.cfg.name.Type, req.Connect.HostType, h.cfg.cluster, false),
		AuthResult:      verifyAuthNone(req.Connect.AuthorizerProtocol, req.Authorizer),
		Replacing:       req.Replacing, Existing: h.registry,
	}
	d := Decide(&in)
	if d.Verdict == VerdictReplace && in.Existing.Lossy {
		d = Decision{Verdict: VerdictOpen, ResetFromPeer: d.ResetFromPeer, Rule: d.Rule}
	}
	if d.Verdict == VerdictOpen {
		h.registry = Existing{Present: true, IsSelf: true}
	}
	return d
}

// verifyAuthNone is msgr.AuthNone.Verify: an empty authorizer or a well-formed auth-none one.
func verifyAuthNone(protocol uint32, blob []byte) int {
	switch {
	case len(blob) == 0 && (protocol == wire.AuthUnknown || protocol == wire.AuthNone):
		return 1
	case protocol == wire.AuthNone:
		if _, err := wire.DecodeAuthNoneAuthorizer(blob); err == nil {
			return 1
		}
	}
	return -1
}

// Deliver checks the message: delivered only on an open session, in increasing seq, with its
// sections as announced, within the limits, and verified.
func (h *fuzzHost) Deliver(m *wire.Message, r Reservation) {
	c, hd := h.c, &m.Header
	switch {
	case !c.state.open():
		h.failf("delivered seq %d in state %v", hd.Seq, c.state)
	case hd.Seq <= h.lastSeq || hd.Seq != c.inSeq:
		h.failf("delivered seq %d after seq %d (in_seq %d)", hd.Seq, h.lastSeq, c.inSeq)
	case uint32(len(m.Front)) != hd.FrontLen || uint32(len(m.Middle)) != hd.MiddleLen || uint32(len(m.Data)) != hd.DataLen:
		h.failf("delivered sections %d+%d+%d, header says %d+%d+%d", len(m.Front), len(m.Middle), len(m.Data),
			hd.FrontLen, hd.MiddleLen, hd.DataLen)
	}
	if err := c.cfg.Limits.CheckHeader(hd); err != nil {
		h.failf("delivered a message over the limits: %v", err)
	}
	if err := m.VerifyFooter(c.cfg.CRCHeader, c.cfg.CRCData); err != nil {
		h.failf("delivered a message that does not verify: %v", err)
	}
	h.lastSeq = hd.Seq
	h.delivered++
	if h.cfg.smallThrottles {
		h.held = append(h.held, r)
		return
	}
	r.Release()
}

func (h *fuzzHost) DiscardIncoming() { h.releaseHeld() }

func (h *fuzzHost) Event(k EventKind) {
	switch k {
	case EventAccept, EventConnect, EventRemoteReset:
		h.lastSeq = h.c.inSeq // a session (re)starts: numbering continues from in_seq
	}
}

// faultCauses are the errors a connection may fault with: every fault wraps one of them.
var faultCauses = []error{
	ErrPeerAddrMismatch, ErrRejected, ErrProtocol, ErrTimeout, ErrTransport, ErrStopped,
	wire.ErrShort, wire.ErrBadBanner, wire.ErrBadAddr, wire.ErrBadTag, wire.ErrBadCRC,
	wire.ErrTooLarge, wire.ErrMalformed, wire.ErrIncomplete,
}

func (h *fuzzHost) Faulted(s State, err error) {
	if err == nil {
		h.failf("fault in %v without a reason", s)
		return
	}
	for _, cause := range faultCauses {
		if errors.Is(err, cause) {
			return
		}
	}
	h.failf("fault in %v for an unclassified reason: %v", s, err)
}

func (h *fuzzHost) StateChanged(from, to State) {
	if from == StateClosed {
		h.failf("left CLOSED for %v", to)
	}
	if to >= numStates {
		h.failf("entered an unknown state %v", to)
		return
	}
	h.reached |= 1 << to
}

// fuzzThrottle is Ceph's non-blocking throttle, counting in the open: it must never be
// returned more than it lent.
type fuzzThrottle struct {
	h        *fuzzHost
	name     string
	max, cur int64
}

func (t *fuzzThrottle) TryGet(n int64) bool {
	if t.max != 0 && ((n <= t.max && t.cur+n > t.max) || (n >= t.max && t.cur > t.max)) {
		return false
	}
	t.cur += n
	return true
}

func (t *fuzzThrottle) Put(n int64) {
	t.cur -= n
	if t.cur < 0 {
		t.h.failf("throttle %s released below zero (%d)", t.name, t.cur)
	}
}
