//go:build linux

package msgr_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The cephx half of the hostile-peer table: an OSD-like messenger with cephx (rotating
// secrets 3, 4 and 5 of service osd; 1 and 2 have rotated out), attacked by raw peers with
// forged, replayed, truncated and oversized authorizers and a badly signed message, and a
// well-behaved cephx client (a ticket sealed with secret 5) that must still be served.

// keyRand is a deterministic io.Reader for the test's keys and nonces.
type keyRand struct{ s uint64 }

func (r *keyRand) Read(p []byte) (int, error) {
	for i := range p {
		r.s = r.s*6364136223846793005 + 1442695040888963407
		p[i] = byte(r.s >> 56)
	}
	return len(p), nil
}

func cephxKey(t *testing.T, seed uint64) cephx.Key {
	t.Helper()
	k, err := cephx.NewAESKey(&keyRand{seed}, cephx.Utime{Sec: 1_700_000_000})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// cephxOSD is the env's cephx service and its good client.
type cephxOSD struct {
	srv     *msgr.Messenger
	srvRT   *event.GoRuntime
	echo    *echoServer
	addr    string
	secrets map[uint64]cephx.Key // every secret the osd service ever had, by id
	mgr     cephx.Key            // the mgr service's current secret (id 5)
	cli     *msgr.Messenger
	cliRT   *event.GoRuntime
	pongs   *pongs
}

const (
	hostileGID        = 4100 // the good client's global id
	hostileCurrentID  = 5    // the osd secret that seals new tickets
	hostileRotatedOut = 2    // an osd secret the service no longer holds
)

func newCephxOSD(t *testing.T, logs *syncBuffer) *cephxOSD {
	t.Helper()
	o := &cephxOSD{echo: &echoServer{}, pongs: &pongs{tids: map[uint64]bool{}}, secrets: map[uint64]cephx.Key{}}
	var held cephx.RotatingSecrets
	for id := uint64(1); id <= hostileCurrentID; id++ {
		o.secrets[id] = cephxKey(t, 100+id)
		if id > hostileRotatedOut {
			held.Secrets = append(held.Secrets, cephx.RotatingSecret{ID: id, Key: o.secrets[id], Expiration: cephx.Utime{Sec: 2_000_000_000}})
		}
	}
	held.MaxVer = hostileCurrentID
	o.mgr = cephxKey(t, 200)
	auth := cephx.NewMessenger(wire.EntityOSD)
	auth.SetServiceKeys(&cephx.ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: held})

	o.srvRT = &event.GoRuntime{}
	srv, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityOSD, 0), ExplicitNonce: true, Stack: epoll.New(epoll.Options{}),
		Runtime: o.srvRT, Rand: detrand.NewSeeded(3), Workers: 2, Auth: auth,
		ReadyTimeout: hostileReadyTimeout, MaxConnections: hostileMaxConns, DispatchThrottleBytes: hostileDispatchMax,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
	if err := srv.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srv.AddDispatcherTail(o.echo)
	o.srv, o.addr = srv, srv.MyAddr().Addr.String()

	cauth := cephx.NewMessenger(wire.EntityClient)
	cauth.SetTickets(hostileGID, o.ticket(t, 300, wire.EntityOSD, hostileCurrentID, time.Hour))
	o.cliRT = &event.GoRuntime{}
	cli, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityClient, hostileGID), Stack: epoll.New(epoll.Options{}), Runtime: o.cliRT,
		Rand: detrand.NewSeeded(4), Workers: 1, Auth: cauth,
	})
	if err != nil {
		t.Fatal(err)
	}
	cli.SetPolicy(wire.EntityOSD, proto.LossyClient(0))
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	cli.AddDispatcherTail(o.pongs)
	o.cli = cli
	return o
}

// ticket is what an auth service gives client.admin for service svc, sealed with the
// secret of that id (of the osd service, or the mgr's current one), valid from an hour ago
// for validity.
func (o *cephxOSD) ticket(t *testing.T, seed uint64, svc wire.EntityType, secretID uint64, validity time.Duration) cephx.ClientTicket {
	t.Helper()
	secret := o.secrets[secretID]
	if svc == wire.EntityMgr {
		secret = o.mgr
	}
	return sealTicket(t, seed, svc, secret, secretID, validity)
}

func sealTicket(t *testing.T, seed uint64, svc wire.EntityType, secret cephx.Key, secretID uint64, validity time.Duration) cephx.ClientTicket {
	t.Helper()
	created := time.Now().Add(-time.Hour)
	info := cephx.ServiceTicketInfo{
		Ticket: cephx.Ticket{Name: wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}, GlobalID: hostileGID,
			Created: cephx.UtimeOf(created), Expires: cephx.UtimeOf(created.Add(validity)), Caps: cephx.CapsInfo{AllowAll: true}},
		SessionKey: cephxKey(t, seed),
	}
	blob, err := cephx.SealTicket(&info, secret, secretID)
	if err != nil {
		t.Fatal(err)
	}
	return cephx.ClientTicket{Service: uint32(svc), SessionKey: info.SessionKey, Blob: blob, Expires: created.Add(validity)}
}

// authorizer builds a client authorizer for a ticket.
func authorizer(t *testing.T, tk cephx.ClientTicket, seed uint64) *cephx.ClientAuthorizer {
	t.Helper()
	a, err := cephx.NewAuthorizer(hostileGID, tk.Service, tk.Blob, tk.SessionKey, &keyRand{seed})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (o *cephxOSD) stop() {
	for _, x := range []struct {
		m  *msgr.Messenger
		rt *event.GoRuntime
	}{{o.cli, o.cliRT}, {o.srv, o.srvRT}} {
		x.m.Shutdown()
		x.m.Wait()
		x.rt.Wait()
	}
}

// checkServes: the good cephx client opens a signed session (challenge round included) and
// gets an MPing answered, then closes it.
func (o *cephxOSD) checkServes(t *testing.T, tid uint64) {
	t.Helper()
	goodPing(t, goodPeer{cli: o.cli, srv: o.srv, pongs: o.pongs, peerType: wire.EntityOSD, who: "cephx osd", signed: true}, tid)
}

// dialOSD opens a raw socket to the osd and exchanges the banners and addresses.
func (o *cephxOSD) dialOSD(t *testing.T) *rawPeer {
	t.Helper()
	p := dialRaw(t, o.addr)
	p.write(greeting())
	if err := wire.CheckBanner(p.read(wire.ServerGreetingLen)); err != nil {
		t.Fatalf("server greeting: %v", err)
	}
	return p
}

// connectAuth sends one connect message toward an OSD with a cephx authorizer (its length
// field says authLen; the blob sent is az) and reads the reply and its authorizer.
func (p *rawPeer) connectAuth(az []byte, authLen uint32) (wire.ConnectReply, []byte) {
	p.t.Helper()
	cm := wire.Connect{
		Features: wire.FeaturesAll, HostType: wire.EntityClient, GlobalSeq: 1,
		ProtocolVersion: wire.ProtoOSDClient, AuthorizerProtocol: wire.AuthCephx, AuthorizerLen: authLen,
		Flags: wire.ConnectLossy,
	}
	p.write(append(cm.Append(nil), az...))
	r, err := wire.DecodeConnectReply(p.read(wire.ConnectReplyLen), wire.Limits{})
	if err != nil {
		p.t.Fatalf("connect reply: %v", err)
	}
	var reply []byte
	if r.AuthorizerLen > 0 {
		reply = p.read(int(r.AuthorizerLen))
	}
	return r, reply
}

// openSigned completes a cephx handshake with the authorizer (answering the challenge) and
// returns the reply tag's session: the peer's features are set, SEQ is exchanged.
func (p *rawPeer) openSigned(a *cephx.ClientAuthorizer) {
	p.t.Helper()
	r, reply := p.connectAuth(a.Bytes(), uint32(len(a.Bytes())))
	if r.Tag != wire.TagChallengeAuthorizer {
		p.t.Fatalf("first connect answered %v, want CHALLENGE_AUTHORIZER", r.Tag)
	}
	if err := a.AddChallenge(reply); err != nil {
		p.t.Fatal(err)
	}
	r, reply = p.connectAuth(a.Bytes(), uint32(len(a.Bytes())))
	if _, err := a.VerifyReply(reply); err != nil {
		p.t.Fatalf("the osd's authorizer reply: %v", err)
	}
	switch r.Tag {
	case wire.TagSeq:
		p.read(wire.SeqLen)
		p.write(wire.AppendSeq(nil, 0))
	case wire.TagReady:
	default:
		p.t.Fatalf("answered connect: %v, want SEQ or READY", r.Tag)
	}
	p.features = r.Features
}

// refusedAuthorizer sends what build returns as the authorizers of successive connect
// messages on one socket (answering no challenge, like a peer without the session key) and
// expects BADAUTHORIZER for the last, no session opened and nothing dispatched.
func refusedAuthorizer(build func(t *testing.T, e *hostileEnv) (azs [][]byte, authLen uint32)) func(t *testing.T, e *hostileEnv) string {
	return func(t *testing.T, e *hostileEnv) string {
		o := e.osd
		azs, authLen := build(t, e)
		pings, opened := o.echo.pings.Load(), o.srv.Metrics().SessionsAccepted
		p := o.dialOSD(t)
		var tags []string
		for i, az := range azs {
			n := uint32(len(az))
			if i == len(azs)-1 && authLen != 0 {
				n = authLen
			}
			r, _ := p.connectAuth(az, n)
			tags = append(tags, r.Tag.String())
			want := wire.TagChallengeAuthorizer
			if i == len(azs)-1 {
				want = wire.TagBadAuthorizer
			}
			if r.Tag != want {
				t.Fatalf("connect %d answered %v, want %v", i+1, r.Tag, want)
			}
		}
		_ = p.c.Close()
		if d := o.srv.Metrics().SessionsAccepted - opened; d != 0 {
			t.Fatalf("%d sessions opened", d)
		}
		if d := o.echo.pings.Load() - pings; d != 0 {
			t.Fatalf("%d messages dispatched", d)
		}
		return fmt.Sprintf("%v, no session", tags)
	}
}

// cephxRefusals: the cephx cases refused at the authorizer, and the text their logged reason
// contains.
var cephxRefusals = map[string]string{
	"cephx: ticket sealed with a wrong key":          "ticket for osd: CephXServiceTicketInfo: cephx: decryption failed",
	"cephx: replayed authorizer":                     "wrong answer to the challenge",
	"cephx: truncated authorizer":                    "decode CephXAuthorizer authorizer.CephXAuthorize at 126: msgr1: short buffer",
	"cephx: ticket blob length 0xFFFFFFFF":           "length over limit: CephXTicketBlob.blob length 4294967295",
	"cephx: ticket for another service (mgr)":        "no secret 5 for service mgr",
	"cephx: expired ticket (its secret rotated out)": fmt.Sprintf("no secret %d for service osd", hostileRotatedOut),
}

var cephxHostileCases = []hostileCase{
	{"cephx: ticket sealed with a wrong key", msgr.FaultOther, refusedAuthorizer(
		func(t *testing.T, e *hostileEnv) ([][]byte, uint32) {
			tk := sealTicket(t, 400, wire.EntityOSD, cephxKey(t, 999), hostileCurrentID, time.Hour)
			return [][]byte{authorizer(t, tk, 1).Bytes()}, 0
		})},
	{"cephx: replayed authorizer", msgr.FaultOther, refusedAuthorizer(
		func(t *testing.T, e *hostileEnv) ([][]byte, uint32) {
			// A client's answer to its challenge, recorded on the wire, then sent again on a
			// new socket by a peer without the session key: it answers no new challenge.
			a := authorizer(t, e.osd.ticket(t, 300, wire.EntityOSD, hostileCurrentID, time.Hour), 2)
			opened := e.osd.srv.Metrics().SessionsAccepted
			good := e.osd.dialOSD(t)
			good.openSigned(a)
			// The accept is counted once the server read our SEQ: wait, so that it is not
			// counted as the replay's.
			waitFor(t, "the recorded session to be accepted", func() bool { return e.osd.srv.Metrics().SessionsAccepted > opened })
			_ = good.c.Close()
			recorded := a.Bytes()
			return [][]byte{recorded, recorded}, 0
		})},
	{"cephx: truncated authorizer", msgr.FaultOther, refusedAuthorizer(
		func(t *testing.T, e *hostileEnv) ([][]byte, uint32) {
			az := authorizer(t, e.osd.ticket(t, 300, wire.EntityOSD, hostileCurrentID, time.Hour), 3).Bytes()
			return [][]byte{az[:len(az)-7]}, 0
		})},
	{"cephx: ticket blob length 0xFFFFFFFF", msgr.FaultOther, refusedAuthorizer(
		func(t *testing.T, e *hostileEnv) ([][]byte, uint32) {
			az := authorizer(t, e.osd.ticket(t, 300, wire.EntityOSD, hostileCurrentID, time.Hour), 4).Bytes()
			// u8 v, le64 global_id, le32 service, then the ticket blob: u8 v, le64 secret_id, le32 len.
			const lenAt = 1 + 8 + 4 + 1 + 8
			binary.LittleEndian.PutUint32(az[lenAt:], 0xFFFFFFFF)
			return [][]byte{az}, 0
		})},
	{"cephx: ticket for another service (mgr)", msgr.FaultOther, refusedAuthorizer(
		func(t *testing.T, e *hostileEnv) ([][]byte, uint32) {
			tk := e.osd.ticket(t, 500, wire.EntityMgr, hostileCurrentID, time.Hour)
			return [][]byte{authorizer(t, tk, 5).Bytes()}, 0
		})},
	{"cephx: expired ticket (its secret rotated out)", msgr.FaultOther, refusedAuthorizer(
		func(t *testing.T, e *hostileEnv) ([][]byte, uint32) {
			tk := e.osd.ticket(t, 600, wire.EntityOSD, hostileRotatedOut, time.Minute) // expired 59 minutes ago
			return [][]byte{authorizer(t, tk, 6).Bytes()}, 0
		})},
	{"cephx: bad message signature", msgr.FaultBadSignature, badSignature},
}

// badSignature opens a signed session, has one signed message dispatched, then sends one
// whose signature does not match: the osd faults the connection and dispatches nothing more.
func badSignature(t *testing.T, e *hostileEnv) string {
	o := e.osd
	a := authorizer(t, e.osd.ticket(t, 300, wire.EntityOSD, hostileCurrentID, time.Hour), 7)
	p := o.dialOSD(t)
	p.openSigned(a)
	if p.features&wire.FeatureMsgAuth == 0 {
		t.Fatal("MSG_AUTH not negotiated")
	}
	pings := o.echo.pings.Load()
	good := p.message(0, []byte("signed"))
	if err := cephx.Sign(a.SessionKey, good, p.features); err != nil {
		t.Fatal(err)
	}
	p.write(p.frame(good))
	waitFor(t, "the signed message to be dispatched", func() bool { return o.echo.pings.Load() > pings })
	bad := p.message(0, []byte("forged"))
	if err := cephx.Sign(a.SessionKey, bad, p.features); err != nil {
		t.Fatal(err)
	}
	bad.Footer.Sig ^= 1 << 17
	p.write(p.frame(bad))
	p.expectClosed(10 * time.Second)
	if d := o.echo.pings.Load() - pings; d != 1 {
		t.Fatalf("%d messages dispatched, want 1 (the well-signed one)", d)
	}
	return "the signed message dispatched; the forged one closes the session, not dispatched"
}

// TestCephxAuthRejectedCounted: a refused authorizer is counted in AuthRejected and in the
// Prometheus output, and logged with its reason; an accepted one is not counted.
func TestCephxAuthRejectedCounted(t *testing.T) {
	logs := &syncBuffer{}
	o := newCephxOSD(t, logs)
	defer o.stop()
	o.checkServes(t, 1)
	if n := o.srv.Metrics().AuthRejected; n != 0 {
		t.Fatalf("AuthRejected %d after a good client", n)
	}
	tk := sealTicket(t, 400, wire.EntityOSD, cephxKey(t, 999), hostileCurrentID, time.Hour)
	p := o.dialOSD(t)
	if r, _ := p.connectAuth(authorizer(t, tk, 1).Bytes(), uint32(len(authorizer(t, tk, 1).Bytes()))); r.Tag != wire.TagBadAuthorizer {
		t.Fatalf("forged ticket answered %v", r.Tag)
	}
	if n := o.srv.Metrics().AuthRejected; n != 1 {
		t.Fatalf("AuthRejected %d, want 1", n)
	}
	if !bytes.Contains([]byte(logs.since(0)), []byte("reason=auth_rejected")) {
		t.Fatalf("no log line with the reason:\n%s", logs.since(0))
	}
	var prom bytes.Buffer
	if err := msgr.WritePrometheus(&prom, o.srv.Metrics()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(prom.Bytes(), []byte(`msgr_auth_rejected_total{msgr="osd.0"} 1`)) {
		t.Fatalf("no auth_rejected sample:\n%s", prom.String())
	}
}
