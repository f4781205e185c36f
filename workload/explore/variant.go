package explore

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Variant changes the scenario in ways the default explore never runs: message shapes and
// configurations that the sweeps do not draw either (the mutation score's kill test runs
// them as extra steps). The zero Variant is the default scenario, with the same points, the
// same schedules and the same trace hashes; a variant is opt-in (msgr-sim explore -variant).
type Variant struct {
	// EmptyFronts: every message with an even id carries an empty front (its middle as
	// usual), and the receiver requires the front to arrive empty: a messenger that hands a
	// recycled message's old front to a message without one is caught (corrupt-delivery).
	EmptyFronts bool
	// NoCRCData and NoCRCHeader turn ms_crc_data and ms_crc_header off on both messengers
	// (Ceph's defaults are on; the sweeps never turn them off).
	NoCRCData   bool
	NoCRCHeader bool
	// Cephx runs cephx between the two: an in-process monitor issues both nodes their
	// tickets (keys from a fixed seed, not from the run's decisions), OSDs verify
	// authorizers with the CEPHX_V2 challenge round, and sessions to OSDs are signed.
	Cephx bool
	// OneByte: every message with an odd id and no data section is a single byte (a 1-byte
	// front, no middle), and the receiver requires exactly that byte: a dispatch reservation
	// of 1 byte must be returned like any other (throttle-leak).
	OneByte bool
	// Priorities: the connector's first send is a burst of three messages at priorities 64,
	// 127 and 196, queued in that order before the connection opens; the acceptor requires
	// them written highest priority first (InvPrioOrder).
	Priorities bool
	// ReadyTimeout: the connector's ms_connection_ready_timeout is longer than the acceptor's,
	// so that a handshake the connector holds up ends with the acceptor's ready timeout, which
	// InvReadyTimeout requires to close the accepted connection in time (by default the
	// connector's timeout, armed first, ends it).
	ReadyTimeout bool
	// KeepaliveFirst: the connector's first act, half a millisecond before its first
	// message, is a keepalive on the connection it creates. A handshake fault then hits a
	// lossless connector that never opened and has no message queued, which msgr1 reconnects
	// (a reset there is a spurious-reset: never-opened excuses only accepted connections).
	KeepaliveFirst bool
	// BigMiddle: every message without a data section carries a middle of bigMiddle bytes,
	// longer than the sections the sender copies whole (its third and fourth ways of
	// encoding a message; no workload sends a middle that long).
	BigMiddle bool
	// Chunked: both messengers' stacks ask for the data crc of a long data section to be
	// computed one chunk of variantChunk bytes at a time, as it is written
	// (netio.ChunkedWriter, as a kernel socket does): the scenario's 6,000- and 5,000-byte
	// data sections are written in chunks, and their footers are sealed only after the last
	// one (the simulator's own stack never asks for that).
	Chunked bool
	// Throttled: the acceptor's policy toward the connector has a message throttle of one
	// (Ceph's policy throttler_messages, as osd_client_message_cap sets for clients): every
	// message it reads holds a unit until it is dispatched (InvThrottleHeld), so it reads
	// the next only after it dispatched the last.
	Throttled bool
	// SmallData: every message with an even id and no data section gets a data section of
	// smallData bytes after its front and middle, so that the receiver finds it whole in its
	// prefetch buffer once it has read the front and middle (no other message of the
	// simulator does: data-only messages take the receiver's whole-message path, and the
	// scenario's other data sections are longer than the prefetch buffer).
	SmallData bool
	// PeerRestart: the connector's machine loses power (its peer is told nothing) right
	// after the acceptor answered its second message, and comes back as a new incarnation at
	// the same address, which connects with connect_seq 0 while the acceptor's session with
	// the old incarnation is still open with unacknowledged answers (restart.go;
	// InvRestartCarryover).
	PeerRestart bool
	// ChallengeCuts: the acceptor cuts each of its first challengeCuts accepted handshakes
	// as it begins writing the connection's second connect_reply, which with Cephx is the
	// reply after the CHALLENGE_AUTHORIZER round: the connector is challenged in each of
	// several attempts in a row, none of which gets further (msgr1 bounds the challenges per
	// attempt, not per connection), and backs off doubling each time (InvBackoff).
	ChallengeCuts bool
	// NoConnLimit: both messengers take MaxConnections -1, no limit on live connections, as
	// Ceph has none (the simulator's messengers otherwise run with the default, 16,384,
	// which no scenario comes near, so the limit's test always passes).
	NoConnLimit bool
}

// variantNames are the names ParseVariant takes, in the order String writes them.
var variantNames = []struct {
	name string
	get  func(*Variant) *bool
}{
	{"empty-fronts", func(v *Variant) *bool { return &v.EmptyFronts }},
	{"no-crc-data", func(v *Variant) *bool { return &v.NoCRCData }},
	{"no-crc-header", func(v *Variant) *bool { return &v.NoCRCHeader }},
	{"cephx", func(v *Variant) *bool { return &v.Cephx }},
	{"one-byte", func(v *Variant) *bool { return &v.OneByte }},
	{"priorities", func(v *Variant) *bool { return &v.Priorities }},
	{"ready-timeout", func(v *Variant) *bool { return &v.ReadyTimeout }},
	{"keepalive-first", func(v *Variant) *bool { return &v.KeepaliveFirst }},
	{"big-middle", func(v *Variant) *bool { return &v.BigMiddle }},
	{"chunked", func(v *Variant) *bool { return &v.Chunked }},
	{"throttled", func(v *Variant) *bool { return &v.Throttled }},
	{"small-data", func(v *Variant) *bool { return &v.SmallData }},
	{"peer-restart", func(v *Variant) *bool { return &v.PeerRestart }},
	{"challenge-cuts", func(v *Variant) *bool { return &v.ChallengeCuts }},
	{"no-conn-limit", func(v *Variant) *bool { return &v.NoConnLimit }},
}

// VariantNames lists the names a variant is made of.
func VariantNames() string {
	var names []string
	for _, n := range variantNames {
		names = append(names, n.name)
	}
	return strings.Join(names, ", ")
}

// ParseVariant reads a comma-separated list of variant names ("" or "none": the default).
func ParseVariant(s string) (Variant, error) {
	var v Variant
	if s == "" || s == "none" {
		return v, nil
	}
	for _, part := range strings.Split(s, ",") {
		found := false
		for _, n := range variantNames {
			if n.name == part {
				*n.get(&v), found = true, true
			}
		}
		if !found {
			return v, fmt.Errorf("unknown variant %q (want a list of %s)", part, VariantNames())
		}
	}
	return v, nil
}

// String writes the variant as ParseVariant reads it ("" for the default).
func (v Variant) String() string {
	var names []string
	for _, n := range variantNames {
		if *n.get(&v) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// emptyFront reports whether message id carries an empty front.
func (v Variant) emptyFront(id uint64) bool { return v.EmptyFronts && id%2 == 0 }

// front is message id's front.
func (v Variant) front(id uint64) []byte {
	if v.emptyFront(id) {
		return nil
	}
	return pattern(id, 1, 40)
}

// bigMiddle is the middle section's length of Variant.BigMiddle's messages: over the 256
// bytes up to which a sender copies a section into its output arena.
const bigMiddle = 300

// middle is the middle section of message id, which has data bytes of data section.
func (v Variant) middle(id uint64, data int) []byte {
	if v.BigMiddle && data == 0 {
		return pattern(id, 3, bigMiddle)
	}
	return pattern(id, 3, 12)
}

// smallData is the data section's length of Variant.SmallData's messages.
const smallData = 100

// data is the data section's length of message id, sent with data bytes asked for.
func (v Variant) data(id uint64, data int) int {
	if v.SmallData && data == 0 && id%2 == 0 {
		return smallData
	}
	return data
}

// challengeCuts is how many handshakes Variant.ChallengeCuts cuts: as many as the
// challenges msgr/proto answers in a row within one attempt (maxChallenges), so that
// challenges counted across attempts would refuse the next attempt's.
const challengeCuts = 3

// variantChunk is the chunk Variant.Chunked's stacks ask for: the 6,000-byte data section
// goes out in six chunks.
const variantChunk = 1024

// chunkedStack is a side's stack that asks for the data crc per chunk (Variant.Chunked).
type chunkedStack struct{ *stack }

// WriteChunk implements netio.ChunkedWriter.
func (chunkedStack) WriteChunk() int { return variantChunk }

// oneByte reports whether message id, with data bytes of data section, is a single byte.
func (v Variant) oneByte(id uint64, data int) bool { return v.OneByte && data == 0 && id%2 == 1 }

// intact reports whether a received message carries exactly what sendOn built.
func (v Variant) intact(m *msgr.Message) bool {
	if v.oneByte(m.Header.Tid, len(m.Data)) {
		return len(m.Front) == 1 && m.Front[0] == byte(m.Header.Tid) && len(m.Middle) == 0
	}
	if v.emptyFront(m.Header.Tid) {
		if len(m.Front) != 0 {
			return false
		}
		c := *m
		c.Front = pattern(m.Header.Tid, 1, 40) // the rest as for any other message
		return intact(&c)
	}
	return intact(m)
}

// connectorReadyTimeout is the connector's ms_connection_ready_timeout with
// Variant.ReadyTimeout: a second longer than the acceptor's.
const connectorReadyTimeout = readyTimeout + time.Second

// configure applies the variant to side's messenger configuration.
func (v Variant) configure(cfg *msgr.Config, side Side, auth msgr.Auth) {
	cfg.NoCRCData, cfg.NoCRCHeader = v.NoCRCData, v.NoCRCHeader
	if v.ReadyTimeout && side == Connector {
		cfg.ReadyTimeout = connectorReadyTimeout
	}
	if v.Cephx {
		cfg.Auth = auth
	}
	if v.NoConnLimit {
		cfg.MaxConnections = -1
	}
}

// cephxEpoch is the wall time the variant's monitor issues its tickets at.
var cephxEpoch = time.Unix(1_750_000_000, 0)

// cephxKeySeed seeds the variant's keys: fixed, so that the keys neither depend on nor
// consume the run's decisions.
const cephxKeySeed = 0x63657068 // "ceph"

// setupCephx gives both nodes a cephx messenger holding the tickets an in-process monitor
// issued them (TTL one hour: the scenario never renews), and the OSDs the service keys.
func (sc *scenario) setupCephx() error {
	rnd := detrand.Reader{R: detrand.NewSeeded(cephxKeySeed)}
	kr := &cephx.Keyring{}
	keys := [2]cephx.Key{}
	names := [2]wire.AuthEntityName{}
	for side, n := range sc.nodes {
		k, err := cephx.NewAESKey(rnd, cephx.UtimeOf(cephxEpoch))
		if err != nil {
			return err
		}
		keys[side] = k
		names[side] = wire.AuthEntityName{Type: uint32(n.ename.Type), ID: strconv.FormatInt(n.ename.Num, 10)}
		kr.Entries = append(kr.Entries, cephx.KeyringEntry{Name: names[side], Key: k, Caps: map[string]string{"osd": "allow *"}})
	}
	mon, err := cephx.NewMonitor(kr, rnd, 4100, cephxEpoch)
	if err != nil {
		return err
	}
	for side, n := range sc.nodes {
		m := cephx.NewMessenger(n.ename.Type)
		if n.ename.Type == wire.EntityOSD {
			m.SetServiceKeys(mon)
		}
		c := cephx.NewClient(cephx.ClientConfig{Name: names[side], Key: keys[side], Rand: rnd})
		s := mon.NewSession()
		for req, i := c.Start(), 0; req != nil; i++ {
			if i > 8 {
				return errors.New("cephx: the handshake does not end")
			}
			reply, err := s.Handle(req, cephxEpoch)
			if err != nil {
				return fmt.Errorf("cephx: %s: %w", n.name, err)
			}
			if req, err = c.Handle(reply, cephxEpoch); err != nil {
				return fmt.Errorf("cephx: %s: %w", n.name, err)
			}
		}
		m.SetTickets(c.GlobalID(), c.Tickets()...)
		n.auth = m
	}
	return nil
}
