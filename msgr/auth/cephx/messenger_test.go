//go:build linux

package cephx_test

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Two Go messengers with cephx over loopback: authorizers with the CEPHX_V2 challenge round in
// the handshake, signed messages both ways, and the refusals.

// seeded is a deterministic io.Reader for keys and nonces in tests.
type seeded struct{ s uint64 }

func (r *seeded) Read(p []byte) (int, error) {
	for i := range p {
		r.s = r.s*6364136223846793005 + 1442695040888963407
		p[i] = byte(r.s >> 56)
	}
	return len(p), nil
}

func key(t *testing.T, seed uint64) cephx.Key {
	t.Helper()
	k, err := cephx.NewAESKey(&seeded{seed}, cephx.Utime{Sec: 1_700_000_000})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// osdKeys are an OSD service's rotating secrets (ids 1, 2, 3; 2 seals new tickets).
func osdKeys(t *testing.T, seed uint64) *cephx.ServiceKeys {
	var r cephx.RotatingSecrets
	for i := uint64(1); i <= 3; i++ {
		r.Secrets = append(r.Secrets, cephx.RotatingSecret{ID: i, Key: key(t, seed+i), Expiration: cephx.Utime{Sec: 2_000_000_000}})
	}
	r.MaxVer = 3
	return &cephx.ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: r}
}

// osdTicket is what an auth service would give name for the OSDs.
func osdTicket(t *testing.T, keys *cephx.ServiceKeys, name wire.AuthEntityName, gid, seed uint64) cephx.ClientTicket {
	t.Helper()
	cur, _ := keys.Rotating.Current()
	info := cephx.ServiceTicketInfo{
		Ticket:     cephx.Ticket{Name: name, GlobalID: gid, Caps: cephx.CapsInfo{AllowAll: true}},
		SessionKey: key(t, seed),
	}
	blob, err := cephx.SealTicket(&info, cur.Key, cur.ID)
	if err != nil {
		t.Fatal(err)
	}
	return cephx.ClientTicket{Service: uint32(wire.EntityOSD), SessionKey: info.SessionKey, Blob: blob}
}

type node struct {
	msgr.NopDispatcher
	m    *msgr.Messenger
	rt   *event.GoRuntime
	mu   sync.Mutex
	got  []*wire.Message
	cons []*msgr.Connection
	tr   []msgr.TraceEvent
	echo bool
}

func (n *node) Dispatch(c *msgr.Connection, m *msgr.Message) bool {
	n.mu.Lock()
	n.got = append(n.got, m)
	n.cons = append(n.cons, c)
	n.mu.Unlock()
	if n.echo {
		r := wire.NewMessage(wire.MsgPing, append([]byte("re:"), m.Front...))
		_ = c.SendMessage(r)
	}
	return true
}

func (n *node) received() []*wire.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

func (n *node) rules() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, e := range n.tr {
		if e.Kind == msgr.TraceDecision {
			out = append(out, e.Rule)
		}
	}
	return out
}

func newNode(t *testing.T, name wire.EntityName, auth msgr.Auth, bind bool) *node {
	t.Helper()
	return newNodeOn(t, epoll.Options{}, name, auth, bind)
}

// newNodeOn is newNode on an epoll stack with the given options.
func newNodeOn(t *testing.T, opts epoll.Options, name wire.EntityName, auth msgr.Auth, bind bool) *node {
	t.Helper()
	n := &node{rt: &event.GoRuntime{}}
	m, err := msgr.New(msgr.Config{
		Name: name, Stack: epoll.New(opts), Runtime: n.rt, Seed: uint64(name.Num) + 77,
		Auth: auth, ClusterProtocol: 10, MaxBackoff: 100 * time.Millisecond,
		Tracer: func(e msgr.TraceEvent) {
			if e.Kind == msgr.TraceDecision {
				n.mu.Lock()
				n.tr = append(n.tr, e)
				n.mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicy(wire.EntityOSD, proto.LosslessPeer(0))
	m.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
	if bind {
		if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(n)
	n.m = m
	t.Cleanup(func() {
		m.Shutdown()
		m.Wait()
		n.rt.Wait()
	})
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func send(t *testing.T, from *node, to *node, peer wire.EntityType, n int, tag string) *msgr.Connection {
	t.Helper()
	c, err := from.m.ConnectTo(peer, to.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		msg := wire.NewMessage(wire.MsgPing, []byte(fmt.Sprintf("%s %d", tag, i)))
		msg.Data = make([]byte, i*100)
		if err := c.SendMessage(msg); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func checkSigned(t *testing.T, who string, msgs []*wire.Message) {
	t.Helper()
	for _, m := range msgs {
		if m.Footer.Flags&wire.FooterSigned == 0 || m.Footer.Sig == 0 {
			t.Fatalf("%s received an unsigned message: %v footer %+v", who, m, m.Footer)
		}
	}
}

var admin = wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}

// A client with an OSD ticket talks to an OSD: the OSD challenges, the client answers, both
// check each other, and every message each way is signed and checked.
func TestMessengerCephxClientToOSD(t *testing.T) {
	keys := osdKeys(t, 10)
	osdAuth := cephx.NewMessenger(wire.EntityOSD)
	osdAuth.SetServiceKeys(keys)
	osd := newNode(t, wire.NewName(wire.EntityOSD, 0), osdAuth, true)
	osd.echo = true

	clAuth := cephx.NewMessenger(wire.EntityClient)
	clAuth.SetTickets(4100, osdTicket(t, keys, admin, 4100, 20))
	cl := newNode(t, wire.NewName(wire.EntityClient, 4100), clAuth, false)

	const n = 20
	conn := send(t, cl, osd, wire.EntityOSD, n, "hello")
	waitUntil(t, "the echoes", func() bool { return len(cl.received()) == n })
	checkSigned(t, "osd", osd.received())
	checkSigned(t, "client", cl.received())
	if rules := osd.rules(); len(rules) != 2 || rules[0] != "5 authorizer challenge" {
		t.Errorf("accept decisions %q, want the challenge then an open", rules)
	}
	if f := conn.Features(); f&wire.FeatureMsgAuth == 0 || f&wire.FeatureCephxV2 == 0 {
		t.Errorf("features %#x lack MSG_AUTH or CEPHX_V2", f)
	}
	for _, m := range []*msgr.Messenger{osd.m, cl.m} {
		if f := m.Metrics().Faults; f["bad_signature"] != 0 || f["auth"] != 0 {
			t.Errorf("%s faults %v", m.Name(), f)
		}
	}
}

// OSDs hold tickets for each other: a lossless session with the challenge round, both ways,
// in order.
func TestMessengerCephxOSDPeers(t *testing.T) {
	keys := osdKeys(t, 30)
	mk := func(id int64) *node {
		a := cephx.NewMessenger(wire.EntityOSD)
		a.SetServiceKeys(keys)
		name := wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: fmt.Sprint(id)}
		a.SetTickets(uint64(5000+id), osdTicket(t, keys, name, uint64(5000+id), uint64(40+id)))
		return newNode(t, wire.NewName(wire.EntityOSD, id), a, true)
	}
	a, b := mk(0), mk(1)
	const n = 200
	send(t, a, b, wire.EntityOSD, n, "a")
	send(t, b, a, wire.EntityOSD, n, "b")
	waitUntil(t, "all messages", func() bool { return len(a.received()) == n && len(b.received()) == n })
	for _, x := range []struct {
		who  string
		msgs []*wire.Message
		tag  string
	}{{"a", a.received(), "b"}, {"b", b.received(), "a"}} {
		checkSigned(t, x.who, x.msgs)
		for i, m := range x.msgs {
			if want := fmt.Sprintf("%s %d", x.tag, i+1); string(m.Front) != want {
				t.Fatalf("%s: message %d is %q, want %q", x.who, i, m.Front, want)
			}
		}
	}
	if !slices.Contains(append(a.rules(), b.rules()...), "5 authorizer challenge") {
		t.Errorf("no challenge round: %q %q", a.rules(), b.rules())
	}
}

// Signed messages with data sections longer than the epoll stack's WriteChunk: the sender
// computes their data crc a chunk at a time as it writes them and signs each once its last
// chunk is summed (the signature covers the data crc). The OSD checks every signature and
// every crc; a signature computed before the data crc was known would fault the session
// forever. The data arrive intact, signed, with no signature or crc fault.
func TestMessengerCephxLongDataSigned(t *testing.T) {
	const chunk = 256 << 10
	opts := epoll.Options{WriteChunk: chunk}
	keys := osdKeys(t, 50)
	osdAuth := cephx.NewMessenger(wire.EntityOSD)
	osdAuth.SetServiceKeys(keys)
	osd := newNodeOn(t, opts, wire.NewName(wire.EntityOSD, 0), osdAuth, true)
	clAuth := cephx.NewMessenger(wire.EntityClient)
	clAuth.SetTickets(4200, osdTicket(t, keys, admin, 4200, 60))
	cl := newNodeOn(t, opts, wire.NewName(wire.EntityClient, 4200), clAuth, false)

	c, err := cl.m.ConnectTo(wire.EntityOSD, osd.m.MyAddr())
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{chunk + 1, 3*chunk - 5, 4 << 20, 100, 2*chunk + 4096}
	var sent [][]byte
	for i, n := range sizes {
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(j*7 + i)
		}
		sent = append(sent, d)
		m := wire.NewMessage(wire.MsgPing, []byte(fmt.Sprintf("long %d", i)))
		m.Data = d
		if err := c.SendMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the long messages", func() bool { return len(osd.received()) == len(sizes) })
	got := osd.received()
	checkSigned(t, "osd", got)
	for i, m := range got {
		if !bytes.Equal(m.Data, sent[i]) || m.Footer.DataCRC != wire.CRC32C(0, sent[i]) {
			t.Fatalf("message %d: %d bytes, data crc %#x", i, len(m.Data), m.Footer.DataCRC)
		}
	}
	for _, m := range []*msgr.Messenger{osd.m, cl.m} {
		for kind, n := range m.Metrics().Faults {
			if n != 0 {
				t.Errorf("%s: %d %s faults", m.Name(), n, kind)
			}
		}
	}
}

// wrongSigner is cephx whose sessions sign with the wrong key: the acceptor must refuse every
// message it signs.
type wrongSigner struct {
	*cephx.Messenger
	key cephx.Key
}

func (w wrongSigner) Client(peer wire.EntityType, rand io.Reader) msgr.ClientAuth {
	return wrongDone{w.Messenger.Client(peer, rand), w.key}
}

type wrongDone struct {
	msgr.ClientAuth
	key cephx.Key
}

func (w wrongDone) Done(reply []byte) (msgr.AuthSession, error) {
	if _, err := w.ClientAuth.Done(reply); err != nil {
		return nil, err
	}
	return cephx.Session{Key: w.key}, nil
}

// Refusals: no ticket (BADAUTHORIZER), a ticket sealed with a secret the OSD does not hold
// (BADAUTHORIZER), messages signed with the wrong key (faulted as bad_signature, nothing
// dispatched); the OSD keeps serving a good client throughout.
func TestMessengerCephxRefusals(t *testing.T) {
	keys := osdKeys(t, 50)
	osdAuth := cephx.NewMessenger(wire.EntityOSD)
	osdAuth.SetServiceKeys(keys)
	osd := newNode(t, wire.NewName(wire.EntityOSD, 0), osdAuth, true)

	noTicket := newNode(t, wire.NewName(wire.EntityClient, 4101), cephx.NewMessenger(wire.EntityClient), false)
	send(t, noTicket, osd, wire.EntityOSD, 1, "no ticket")

	forged := cephx.NewMessenger(wire.EntityClient)
	forged.SetTickets(4102, osdTicket(t, osdKeys(t, 99), admin, 4102, 60))
	fn := newNode(t, wire.NewName(wire.EntityClient, 4102), forged, false)
	send(t, fn, osd, wire.EntityOSD, 1, "forged")

	bad := cephx.NewMessenger(wire.EntityClient)
	bad.SetTickets(4103, osdTicket(t, keys, admin, 4103, 70))
	bn := newNode(t, wire.NewName(wire.EntityClient, 4103), wrongSigner{bad, key(t, 71)}, false)
	send(t, bn, osd, wire.EntityOSD, 3, "bad signature")

	good := cephx.NewMessenger(wire.EntityClient)
	good.SetTickets(4104, osdTicket(t, keys, admin, 4104, 80))
	gn := newNode(t, wire.NewName(wire.EntityClient, 4104), good, false)
	send(t, gn, osd, wire.EntityOSD, 5, "good")

	waitUntil(t, "the refusals", func() bool {
		f := osd.m.Metrics().Faults
		return f["bad_signature"] >= 1 && noTicket.m.Metrics().Faults["rejected"] >= 1 &&
			fn.m.Metrics().Faults["rejected"] >= 1 && len(osd.received()) >= 5
	})
	time.Sleep(200 * time.Millisecond) // retries of the refused clients arrive meanwhile
	for _, m := range osd.received() {
		if string(m.Front[:4]) != "good" {
			t.Errorf("the OSD dispatched %q", m.Front)
		}
	}
	if got := len(osd.received()); got != 5 {
		t.Errorf("the OSD dispatched %d messages, want the good client's 5", got)
	}
	rules := osd.rules()
	if !slices.Contains(rules, "5 authorizer rejected") {
		t.Errorf("no rejection among %q", rules)
	}
}

// tamperer is an attacker on the path, played by the sender's own session: after the message
// is signed (or, without signatures, instead of signing), the data section changes and its crc
// is recomputed, as an attacker who rewrites bytes in flight and fixes every crc would do.
// (The data section of these messages is larger than the core copies: it is written from the
// message itself, after Sign.)
type tamperer struct {
	signer msgr.AuthSession // nil: an unsigned session
}

func (tp tamperer) Sign(m *wire.Message, features uint64) error {
	if tp.signer != nil {
		if err := tp.signer.Sign(m, features); err != nil {
			return err
		}
	}
	m.Data[0] ^= 0x5a
	m.Footer.DataCRC = wire.CRC32C(0, m.Data)
	return nil
}

func (tp tamperer) Check(m *wire.Message, features uint64) error {
	if tp.signer == nil {
		return nil
	}
	return tp.signer.Check(m, features)
}

// tamperAuth is cephx whose outgoing sessions carry a tamperer.
type tamperAuth struct {
	*cephx.Messenger
	signed bool
}

func (a tamperAuth) Client(peer wire.EntityType, rand io.Reader) msgr.ClientAuth {
	return tamperDone{a.Messenger.Client(peer, rand), a.signed}
}

type tamperDone struct {
	msgr.ClientAuth
	signed bool
}

func (d tamperDone) Done(reply []byte) (msgr.AuthSession, error) {
	s, err := d.ClientAuth.Done(reply)
	if err != nil || !d.signed {
		return tamperer{}, err
	}
	return tamperer{signer: s}, nil
}

// noCheck is an acceptor that verifies the authorizer but signs and checks nothing: crcs
// are all that protect its sessions.
type noCheck struct{ *cephx.Messenger }

func (n noCheck) Server(rand io.Reader) msgr.ServerAuth {
	return noCheckServer{n.Messenger.Server(rand)}
}

type noCheckServer struct{ msgr.ServerAuth }

func (s noCheckServer) Verify(peer wire.EntityType, protocol uint32, blob []byte, features uint64) msgr.AuthVerdict {
	v := s.ServerAuth.Verify(peer, protocol, blob, features)
	v.Session = nil
	return v
}

// Bytes changed in flight with every crc recomputed: without signatures the crcs pass and the
// changed message is dispatched; with signatures it is refused before dispatch (the session
// faults with bad_signature) and nothing changed is ever dispatched.
func TestMessengerCephxTamper(t *testing.T) {
	for _, signed := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			keys := osdKeys(t, 90)
			osdAuth := cephx.NewMessenger(wire.EntityOSD)
			osdAuth.SetServiceKeys(keys)
			var server msgr.Auth = osdAuth
			if !signed {
				server = noCheck{osdAuth}
			}
			osd := newNode(t, wire.NewName(wire.EntityOSD, 0), server, true)
			cl := cephx.NewMessenger(wire.EntityClient)
			cl.SetTickets(4100, osdTicket(t, keys, admin, 4100, 91))
			cn := newNode(t, wire.NewName(wire.EntityClient, 4100), tamperAuth{cl, signed}, false)
			c, err := cn.m.ConnectTo(wire.EntityOSD, osd.m.MyAddr())
			if err != nil {
				t.Fatal(err)
			}
			msg := wire.NewMessage(wire.MsgPing, []byte("tampered"))
			msg.Data = bytes.Repeat([]byte{7}, 1000)
			if err := c.SendMessage(msg); err != nil {
				t.Fatal(err)
			}
			if !signed {
				waitUntil(t, "the tampered delivery", func() bool { return len(osd.received()) == 1 })
				if got := osd.received()[0]; got.Data[0] == 7 {
					t.Fatal("the data arrived unchanged: nothing was tampered with")
				}
				return
			}
			waitUntil(t, "the refusal", func() bool { return osd.m.Metrics().Faults["bad_signature"] >= 1 })
			time.Sleep(100 * time.Millisecond)
			for _, m := range osd.received() {
				if m.Data[0] != 7 {
					t.Fatalf("a tampered message was dispatched: %v", m)
				}
			}
		})
	}
}

// Requirements (cephx_*_require_signatures, cephx_*_require_version) over the messenger: an
// OSD answers FEATURES to a cephx peer lacking what it requires, before looking at its
// authorizer (no challenge, no BADAUTHORIZER), and opens sessions with the others, signed
// exactly when MSG_AUTH was negotiated.
func TestMessengerCephxRequirements(t *testing.T) {
	const refused = "4 missing required features"
	noSig, noV2 := wire.FeaturesAll&^wire.FeatureMsgAuth, wire.FeaturesAll&^wire.FeatureCephxV2
	for i, tc := range []struct {
		name     string
		req      cephx.Requirements
		peer     wire.EntityType // a client, or another OSD
		features uint64          // what the peer supports
		open     bool
		forged   bool // the peer's ticket is sealed with a secret the OSD does not hold
	}{
		{"defaults, all features", cephx.DefaultRequirements(), wire.EntityClient, wire.FeaturesAll, true, false},
		{"defaults, no MSG_AUTH: unsigned", cephx.DefaultRequirements(), wire.EntityClient, noSig, true, false},
		{"defaults, no CEPHX_V2", cephx.DefaultRequirements(), wire.EntityClient, noV2, false, false},
		{"defaults, OSD peer without CEPHX_V2", cephx.DefaultRequirements(), wire.EntityOSD, noV2, false, false},
		{"require_signatures, no MSG_AUTH", cephx.Requirements{RequireSignatures: true}, wire.EntityClient, noSig, false, false},
		{"require_signatures, all features", cephx.Requirements{RequireSignatures: true}, wire.EntityClient, wire.FeaturesAll, true, false},
		{"service_require_signatures, client without MSG_AUTH", cephx.Requirements{ServiceRequireSignatures: true}, wire.EntityClient, noSig, false, false},
		{"cluster_require_signatures, client without MSG_AUTH", cephx.Requirements{ClusterRequireSignatures: true}, wire.EntityClient, noSig, true, false},
		{"cluster_require_signatures, OSD without MSG_AUTH", cephx.Requirements{ClusterRequireSignatures: true}, wire.EntityOSD, noSig, false, false},
		{"version 1, client without CEPHX_V2", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 1}, wire.EntityClient, noV2, true, false},
		{"cluster version 2 only, client without CEPHX_V2", cephx.Requirements{ClusterRequireVersion: 2}, wire.EntityClient, noV2, true, false},
		{"cluster version 2 only, OSD without CEPHX_V2", cephx.Requirements{ClusterRequireVersion: 2}, wire.EntityOSD, noV2, false, false},
		{"defaults, no CEPHX_V2, forged ticket: FEATURES, not BADAUTHORIZER", cephx.DefaultRequirements(), wire.EntityClient, noV2, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := osdKeys(t, 200+uint64(i)*10)
			osdAuth := cephx.NewMessenger(wire.EntityOSD)
			osdAuth.SetServiceKeys(keys)
			osdAuth.SetRequirements(tc.req)
			osd := newNode(t, wire.NewName(wire.EntityOSD, 0), osdAuth, true)
			osd.echo = true

			peerAuth := cephx.NewMessenger(tc.peer)
			name := admin
			if tc.peer == wire.EntityOSD {
				name = wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "1"}
				peerAuth.SetServiceKeys(keys)
			}
			tkeys := keys
			if tc.forged {
				tkeys = osdKeys(t, 999)
			}
			peerAuth.SetTickets(4200, osdTicket(t, tkeys, name, 4200, 200+uint64(i)*10+5))
			peer := newNode(t, wire.NewName(tc.peer, 1), peerAuth, tc.peer == wire.EntityOSD)
			pol := proto.LossyClient(0)
			if tc.peer == wire.EntityOSD {
				pol = proto.LosslessPeer(0)
			}
			pol.FeaturesSupported = tc.features
			peer.m.SetPolicy(wire.EntityOSD, pol)

			conn, err := peer.m.ConnectTo(wire.EntityOSD, osd.m.MyAddr())
			if err != nil {
				t.Fatal(err)
			}
			// A refused lossy session may be closed before the message is queued.
			if err := conn.SendMessage(wire.NewMessage(wire.MsgPing, []byte("hello"))); err != nil && tc.open {
				t.Fatal(err)
			}
			if !tc.open {
				waitUntil(t, "the FEATURES reply", func() bool { return slices.Contains(osd.rules(), refused) })
				if rules := osd.rules(); slices.ContainsFunc(rules, func(r string) bool { return r != refused }) {
					t.Fatalf("accept decisions %q: the authorizer was looked at", rules)
				}
				if n := osd.m.Metrics().AuthRejected; n != 0 {
					t.Fatalf("%d authorizers rejected", n)
				}
				if len(osd.received()) != 0 {
					t.Fatal("a message was dispatched")
				}
				return
			}
			waitUntil(t, "the echo", func() bool { return len(peer.received()) == 1 })
			signed := tc.features&wire.FeatureMsgAuth != 0
			if conn.Signed() != signed {
				t.Fatalf("session signed %v, want %v (features %#x)", conn.Signed(), signed, conn.Features())
			}
			if signed {
				checkSigned(t, "osd", osd.received())
				checkSigned(t, "peer", peer.received())
			}
			if challenged := slices.Contains(osd.rules(), "5 authorizer challenge"); challenged != (tc.features&wire.FeatureCephxV2 != 0) {
				t.Fatalf("accept decisions %q with features %#x", osd.rules(), tc.features)
			}
		})
	}
}

// TestRequirementsAsCeph16: Requirements.Features against what a real ceph-mon 16.2.15
// answered a raw connect message with a cephx authorizer (FEATURES, or on to the authorizer),
// for peers lacking MSG_AUTH or CEPHX_V2, with the options changed at run time by `ceph tell
// mon.a config set` (docs/cephx.md, "Requirements"); OSD peers were probed at the monitor
// only where its own OSD policy did not already require the feature.
func TestRequirementsAsCeph16(t *testing.T) {
	def := cephx.DefaultRequirements()
	for _, c := range []struct {
		name string
		req  cephx.Requirements
		peer wire.EntityType
		want uint64
	}{
		{"defaults, client", def, wire.EntityClient, wire.FeatureCephxV2},
		{"defaults, mon", def, wire.EntityMon, wire.FeatureCephxV2},
		{"service_require_version 1", cephx.Requirements{RequireVersion: 2, ClusterRequireVersion: 2, ServiceRequireVersion: 1}, wire.EntityClient, wire.FeatureCephxV2},
		{"only service_require_version 2", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 2}, wire.EntityMon, wire.FeatureCephxV2},
		{"only cluster_require_version 2, client", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 2, ServiceRequireVersion: 1}, wire.EntityClient, 0},
		{"only cluster_require_version 2, mgr", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 2, ServiceRequireVersion: 1}, wire.EntityMgr, wire.FeatureCephxV2},
		{"only cluster_require_version 2, mds", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 2, ServiceRequireVersion: 1}, wire.EntityMDS, wire.FeatureCephxV2},
		{"only service_require_version 2, mgr", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 2}, wire.EntityMgr, 0},
		{"version 1, client", cephx.Requirements{RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 1}, wire.EntityClient, 0},
		{"require_signatures, client", cephx.Requirements{RequireSignatures: true, RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 1}, wire.EntityClient, wire.FeatureMsgAuth},
		{"require_signatures, mon", cephx.Requirements{RequireSignatures: true, RequireVersion: 1, ClusterRequireVersion: 1, ServiceRequireVersion: 1}, wire.EntityMon, wire.FeatureMsgAuth},
		{"service_require_signatures, client", cephx.Requirements{ServiceRequireSignatures: true}, wire.EntityClient, wire.FeatureMsgAuth},
		{"service_require_signatures, osd", cephx.Requirements{ServiceRequireSignatures: true}, wire.EntityOSD, 0},
		{"cluster_require_signatures, mon", cephx.Requirements{ClusterRequireSignatures: true}, wire.EntityMon, 0},
		{"cluster_require_signatures, osd", cephx.Requirements{ClusterRequireSignatures: true}, wire.EntityOSD, wire.FeatureMsgAuth},
		{"cluster_require_signatures, mgr", cephx.Requirements{ClusterRequireSignatures: true}, wire.EntityMgr, wire.FeatureMsgAuth},
	} {
		if got := c.req.Features(c.peer); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
	m := cephx.NewMessenger(wire.EntityOSD)
	if f := m.RequiredFeatures(wire.EntityClient, wire.AuthCephx); f != wire.FeatureCephxV2 {
		t.Errorf("a new Messenger requires %#x of cephx clients, want CEPHX_V2 (Ceph's defaults)", f)
	}
	if f := m.RequiredFeatures(wire.EntityClient, wire.AuthNone); f != 0 {
		t.Errorf("requires %#x of auth none peers", f)
	}
}
