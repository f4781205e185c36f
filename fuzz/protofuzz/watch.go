package protofuzz

import (
	"errors"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// watch checks what the fuzzed connection reports to its Host as it reports it (a
// prototest.Watcher); the problems go to the World, where the driver's check finds the first.
type watch struct {
	w       *prototest.World
	lastSeq uint64 // the last seq delivered in the current session
}

var _ prototest.Watcher = (*watch)(nil)

// Delivered checks the message: delivered only on an open session, in increasing seq, with
// its sections as announced, within the limits, and verified.
func (k *watch) Delivered(n *prototest.Node, m *wire.Message) {
	c, hd, cfg := n.C, &m.Header, &n.M.Cfg
	_, inSeq, _, _ := c.Seqs()
	switch {
	case !c.State().IsOpen():
		k.w.Problemf("delivered seq %d in state %v", hd.Seq, c.State())
	case hd.Seq <= k.lastSeq || hd.Seq != inSeq:
		k.w.Problemf("delivered seq %d after seq %d (in_seq %d)", hd.Seq, k.lastSeq, inSeq)
	case uint32(len(m.Front)) != hd.FrontLen || uint32(len(m.Middle)) != hd.MiddleLen || uint32(len(m.Data)) != hd.DataLen:
		k.w.Problemf("delivered sections %d+%d+%d, header says %d+%d+%d", len(m.Front), len(m.Middle), len(m.Data),
			hd.FrontLen, hd.MiddleLen, hd.DataLen)
	}
	if err := cfg.Limits.CheckHeader(hd); err != nil {
		k.w.Problemf("delivered a message over the limits: %v", err)
	}
	if err := m.VerifyFooter(cfg.CRCHeader, cfg.CRCData); err != nil {
		k.w.Problemf("delivered a message that does not verify: %v", err)
	}
	k.lastSeq = hd.Seq
}

// Event: a session (re)starts, and its numbering continues from in_seq.
func (k *watch) Event(n *prototest.Node, e proto.EventKind) {
	switch e {
	case proto.EventAccept, proto.EventConnect, proto.EventRemoteReset:
		_, k.lastSeq, _, _ = n.C.Seqs()
	}
}

// faultCauses are the errors a connection may fault with: every fault wraps one of them.
var faultCauses = []error{
	proto.ErrPeerAddrMismatch, proto.ErrRejected, proto.ErrProtocol, proto.ErrTimeout, proto.ErrTransport,
	proto.ErrStopped, proto.ErrAuth, proto.ErrBadSignature, wire.ErrShort, wire.ErrBadBanner, wire.ErrBadAddr, wire.ErrBadTag, wire.ErrBadCRC,
	wire.ErrTooLarge, wire.ErrMalformed, wire.ErrIncomplete,
}

// Faulted checks that the fault has a known cause.
func (k *watch) Faulted(_ *prototest.Node, s proto.State, err error) {
	if err == nil {
		k.w.Problemf("fault in %v without a reason", s)
		return
	}
	for _, cause := range faultCauses {
		if errors.Is(err, cause) {
			return
		}
	}
	k.w.Problemf("fault in %v for an unclassified reason: %v", s, err)
}

// numStates is the number of states proto has.
var numStates = proto.State(len(proto.AllStates()))

// StateChanged checks that CLOSED is final and the state is one proto has.
func (k *watch) StateChanged(_ *prototest.Node, from, to proto.State) {
	if from == proto.StateClosed {
		k.w.Problemf("left CLOSED for %v", to)
	}
	if to >= numStates {
		k.w.Problemf("entered an unknown state %v", to)
	}
}
