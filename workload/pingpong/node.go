package pingpong

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
	"github.com/msgrsim/msgrsim/sim/check"
	"github.com/msgrsim/msgrsim/sim/fault"
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/sim/world"
	"github.com/msgrsim/msgrsim/simnet"
)

// node is one process of the pingpong workload: a messenger on its own simulated host. It
// survives crashes as a sequence of incarnations (a new messenger each time).
type node struct {
	p     *Workload
	ename wire.EntityName
	name  string
	idx   int
	osd   bool
	fast  bool // fast-dispatches everything
	ip    netip.Addr
	port  uint16 // bound port, kept across restarts

	inc     int    // incarnation number
	incStr  string // incName's cache, built for incarnation incFor
	incFor  int
	alive   bool
	host    *simnet.Host
	sockets *harness.Sockets
	m       *msgr.Messenger
}

// incName names the current incarnation, e.g. "osd.1#2".
// It is called for every traced event, so it is built once per incarnation.
func (n *node) incName() string {
	if n.incStr == "" || n.incFor != n.inc {
		n.incStr, n.incFor = fmt.Sprintf("%s#%d", n.name, n.inc), n.inc
	}
	return n.incStr
}

// start creates the node's messenger (a new incarnation) with the given nonce (0: random).
func (n *node) start(nonce uint32) error {
	h := n.p.h
	n.inc++
	n.host = h.W.AddHost(n.incName(), n.ip)
	stack := n.sockets.Stack(n.host)
	cfg := msgr.Config{Name: n.ename, Nonce: nonce, Stack: stack, Runtime: h.W, Rand: h.W.Rand(),
		ClusterProtocol: wire.ProtoOSDPeer, Tracer: h.Tracer(n), Recycler: &h.Recycler}
	if h.Faults.On[fault.DispatchDelay] {
		cfg.InjectDelay = &msgr.InjectDelay{Types: []wire.EntityType{wire.EntityOSD, wire.EntityClient},
			Probability: h.Faults.DelayProb, Max: h.Faults.DelayMax}
	}
	n.p.h.Cfg.Knobs.Apply(&cfg)
	m, err := msgr.New(cfg)
	if err != nil {
		return err
	}
	n.m = m
	n.setPolicies()
	if n.osd {
		if err := m.Bind(netip.AddrPortFrom(n.ip, n.port)); err != nil {
			return fmt.Errorf("%s: %w", n.incName(), err)
		}
		n.port = m.MyAddr().Port()
	}
	if err := m.Start(); err != nil {
		return err
	}
	m.AddDispatcherTail(n)
	h.Audit.Add(n.incName(), m)
	n.alive = true
	n.p.byAddr[m.MyAddr()] = n
	if h.W.Trace.Keeping() {
		h.W.Trace.Logf(h.W.Now(), "%s up at %v", n.incName(), m.MyAddr())
		h.W.Trace.AddMark(world.Mark{At: h.W.Now(), Kind: "up", Node: n.incName(), Text: fmt.Sprintf("up at %v", m.MyAddr())})
	}
	return nil
}

func (n *node) setPolicies() {
	if n.osd {
		n.m.SetPolicy(wire.EntityOSD, n.knobbed(proto.LosslessPeer(0)))
		n.m.SetPolicy(wire.EntityClient, n.knobbed(proto.StatelessServer(0)))
		return
	}
	n.m.SetPolicy(wire.EntityOSD, n.knobbed(proto.LossyClient(0)))
}

// knobbed is policy p with the node's feature bits and the run's throttles (harness.Knobs).
func (n *node) knobbed(p proto.Policy) proto.Policy { return n.p.h.Cfg.Knobs.Policy(n.idx, p) }

// sendTo sends one message to node to (a lossless message between OSDs, lossy from a
// client), on the session with to's current incarnation.
func (n *node) sendTo(to *node) {
	if !n.alive || !to.alive {
		return
	}
	c, err := n.m.ConnectTo(to.ename.Type, to.m.MyAddr())
	if err != nil {
		n.p.h.Check.Violate(check.InvNoProgress, int64(n.p.h.W.Now()), "%s connect_to %v: %v", n.name, to.m.MyAddr(), err)
		return
	}
	n.sendOn(c, to.name, n.osd && to.osd)
}

// sendOn sends one message on c, recording it with the checker if the messenger took it.
func (n *node) sendOn(c *msgr.Connection, toName string, lossless bool) {
	h := n.p.h
	id := h.NextID()
	mem := &h.Mem
	var m *wire.Message
	switch h.Cfg.Knobs.MsgSize {
	case 1:
		m = mem.Message(wire.MsgPing, front(mem, id, 8))
	case 2:
		m = mem.Message(wire.MsgPing, front(mem, id, frontLen(h.Rand)))
		if h.Rand.IntN(4) == 3 {
			m.Data = payloadData(id, 4096+h.Rand.IntN(60000))
		}
	default:
		m = mem.Message(wire.MsgPing, front(mem, id, frontLen(h.Rand)))
		if h.Rand.IntN(50) == 49 {
			m.Data = payloadData(id, 4096+h.Rand.IntN(60000))
		}
	}
	m.Header.Tid = id
	if h.Cfg.Knobs.Priorities {
		m.Header.Priority = []uint16{wire.PrioLow, wire.PrioDefault, wire.PrioHigh}[h.Rand.IntN(3)]
	}
	h.Check.SentOn(n.name, toName, check.SessionID(n.inc, c.ID()), m.Header.Priority, id, lossless)
	if h.W.Trace.Keeping() {
		kind := "lossy"
		if lossless {
			kind = "lossless"
		}
		h.W.Trace.Logf(h.W.Now(), "%s conn %d: send id %d to %s (%s, %d+0+%d bytes)", n.incName(), c.ID(), id, toName, kind, len(m.Front), len(m.Data))
		h.W.Trace.AddMark(world.Mark{At: h.W.Now(), Kind: "send", Node: n.incName(), Peer: toName, ID: id, Conn: c.ID(), Text: kind})
	}
	if err := c.SendMessage(m); err != nil {
		h.Check.Dropped(id)
	}
}

// frontLen draws a front's length: mostly small, sometimes a few KiB.
func frontLen(r *detrand.Rand) int {
	n := 8 + r.IntN(248)
	if r.IntN(10) == 9 {
		n = 4096 + r.IntN(4096)
	}
	return n
}

// payload draws a front: the message id, then a pattern derived from it (so a receiver can
// tell whether the content arrived intact), mostly small, sometimes a few KiB.
func payload(r *detrand.Rand, id uint64) []byte { return payloadOf(id, frontLen(r)) }

// payloadOf is the front of n bytes (at least 8) of message id.
func payloadOf(id uint64, n int) []byte {
	b := make([]byte, n)
	fillFront(b, id)
	return b
}

// fillFront writes message id's front into b: the id, then b[i] = byte(id*31 + i).
func fillFront(b []byte, id uint64) {
	if off := int(id*31) & 0xff; len(b) <= len(frontPattern)-off {
		copy(b, frontPattern[off:]) // a copy, not a loop per byte
	} else {
		fillPattern(b, id*31, 1)
	}
	binary.LittleEndian.PutUint64(b, id)
}

// frontPattern is byte(j) for every j, as long as the largest front the workload draws
// (8 KiB) plus a phase: fillFront copies a front's pattern from it.
var frontPattern = func() []byte {
	b := make([]byte, 256+8<<10)
	fillPattern(b, 0, 1)
	return b
}()

// dataPattern is byte(j*13) for every j: message id's data section of n bytes, byte(id*7 +
// i*13) at i, is dataPattern[s:s+n] for the s with s*13 = id*7 (mod 256), since 13 is odd
// and so invertible modulo 256 (13*197 = 1 mod 256). Every data section the workload sends
// is such a slice of this one buffer, read-only by contract: a messenger must not write into
// what it sends (msgr's TestSentBuffersUnchanged checks it does not), and the receiver checks
// the bytes against the pattern computed afresh (intact), not against this buffer.
var dataPattern = func() []byte {
	b := make([]byte, 256+maxSharedData)
	fillPattern(b, 0, 13)
	return b
}()

// maxSharedData bounds the data sections cut from dataPattern (the workload's are at most
// 4096+59999 bytes); a longer one is built.
const maxSharedData = 64 << 10

// payloadData is message id's data section of n bytes: b[i] = byte(id*7 + i*13), read-only
// (a slice of dataPattern whose capacity ends with it).
func payloadData(id uint64, n int) []byte {
	if n > maxSharedData {
		b := make([]byte, n)
		fillPattern(b, id*7, 13)
		return b
	}
	s := int(byte(id * 7 * 197))
	return dataPattern[s : s+n : s+n]
}

// front is message id's front of n bytes (at least 8; see fillFront), from mem.
func front(mem *harness.SendMemory, id uint64, n int) []byte {
	b := mem.Bytes(n)
	fillFront(b, id)
	return b
}

// fillPattern sets b[i] = byte(base + i*step). The pattern repeats every 256 bytes: the first
// 256 are computed, the rest copied (the 4-64 KiB data sections made this the workload's
// main cost).
func fillPattern(b []byte, base, step uint64) {
	for i := range min(len(b), 256) {
		b[i] = byte(base + uint64(i)*step)
	}
	for done := 256; done < len(b); done *= 2 {
		copy(b[done:], b[:done])
	}
}

// checkFront and checkData are frontPattern's and dataPattern's patterns again, in buffers of
// their own that no message ever carries: what a receiver compares with cannot have been
// changed by a messenger that wrongly wrote into a buffer it sent.
var (
	checkFront = bytes.Clone(frontPattern)
	checkData  = bytes.Clone(dataPattern)
)

// matchesPattern reports whether b[i] == byte(base + i*step) for every i >= from.
func matchesPattern(b []byte, base, step uint64, from int) bool {
	// The fronts' and data sections' patterns are slices of the check buffers (see
	// payloadData): one compare, without building the pattern for every message.
	var pat []byte
	var off int
	switch step {
	case 1:
		pat, off = checkFront, int(byte(base))
	case 13:
		pat, off = checkData, int(byte(base*197)) // 13*197 = 1 (mod 256)
	}
	if pat != nil && from <= len(b) && off+len(b) <= len(pat) {
		return bytes.Equal(b[from:], pat[off+from:off+len(b)])
	}
	var want [256]byte
	fillPattern(want[:], base, step)
	for i := from; i < len(b); {
		end := min(len(b), i-i%256+256)
		if !bytes.Equal(b[i:end], want[i%256:i%256+end-i]) {
			return false
		}
		i = end
	}
	return true
}

// intact reports whether a received message carries exactly what sendOn built.
func intact(m *msgr.Message) bool {
	if len(m.Front) < 8 || binary.LittleEndian.Uint64(m.Front) != m.Header.Tid {
		return false
	}
	id := m.Header.Tid
	return matchesPattern(m.Front, id*31, 1, 8) && matchesPattern(m.Data, id*7, 13, 0)
}

// Crash crashes the node and restarts it a little later, as a restarted OSD: with a new
// nonce, or, like a monitor, the same one.
func (n *node) Crash() {
	h := n.p.h
	old := n.m.MyAddr()
	h.Note(n.incName(), "crash")
	n.host.Crash()
	h.Audit.Remove(n.m)
	for _, c := range n.m.Centers() {
		h.W.Stop(c)
	}
	h.W.Net.RemoveHost(n.ip)
	n.alive = false
	h.Check.ForgiveNode(n.name)
	h.Check.Abandoned(n.name)
	keepNonce := h.FaultRand.Bool()
	restart := h.W.Now() + time.Duration(h.FaultRand.Range(1, 50))*time.Millisecond
	h.W.Schedule(restart, func() { n.restart(old, keepNonce) })
}

func (n *node) restart(old wire.EntityAddr, keepNonce bool) {
	h := n.p.h
	nonce := uint32(0)
	if keepNonce {
		nonce = old.Nonce
	}
	if err := n.start(nonce); err != nil {
		h.Check.Violate(check.InvNoProgress, int64(h.W.Now()), "restart %s: %v", n.name, err)
		return
	}
	if n.m.MyAddr() == old {
		return
	}
	// Like an OSD map update: peers learn the old instance is gone.
	for _, p := range n.p.nodes {
		if p != n && p.alive {
			p.m.MarkDown(old)
		}
	}
}
