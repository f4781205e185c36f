//go:build linux

package cephx_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	crand "crypto/rand"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Interoperability with a real ceph-mon running cephx (scripts/ceph/cephx-mon-up.sh). These
// tests need ceph-mon and ceph-common; they skip, loudly, without them, unless
// MSGRSIM_REQUIRE_CEPH is set (as .ci/run sets it), which turns a missing binary into a
// failure.

func requireCeph(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ceph-mon", "ceph", "ceph-authtool", "monmaptool"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s not installed: apt-get install ceph-mon ceph-common", tool)
			if os.Getenv("MSGRSIM_REQUIRE_CEPH") != "" {
				t.Fatal(msg)
			}
			t.Skip("SKIPPING CEPH INTEROPERABILITY TEST: " + msg)
		}
	}
}

type cephxMon struct {
	addr    wire.EntityAddr
	dir     string
	conf    string
	keyring string // client.admin
}

// startCephxMon starts a real msgr1-only ceph-mon with cephx required on a free port.
func startCephxMon(t *testing.T) *cephxMon {
	t.Helper()
	requireCeph(t)
	port := freePort(t)
	dir := filepath.Join("/tmp", fmt.Sprintf("msgrsim-cephx-mon-%d", port))
	out, err := exec.Command("../../../scripts/ceph/cephx-mon-up.sh", dir, fmt.Sprint(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("cephx-mon-up.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("../../../scripts/ceph/mon-down.sh", dir, "a").Run()
		_ = os.RemoveAll(dir)
	})
	a, err := wire.ParseEntityAddr(fmt.Sprintf("v1:127.0.0.1:%d/0", port))
	if err != nil {
		t.Fatal(err)
	}
	return &cephxMon{addr: a, dir: dir, conf: filepath.Join(dir, "ceph.conf"), keyring: filepath.Join(dir, "client.admin.keyring")}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ceph runs the real CLI against the monitor with the admin key.
func (m *cephxMon) ceph(t *testing.T, args ...string) string {
	t.Helper()
	full := append([]string{"-c", m.conf, "-k", m.keyring, "-n", "client.admin", "--connect-timeout", "10"}, args...)
	out, err := exec.Command("ceph", full...).CombinedOutput()
	if err != nil {
		t.Fatalf("ceph %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// monSession is one msgr1 session of a Go messenger with the monitor, opened without an
// authorizer (as Ceph's clients do toward monitors); MAuthReply fronts arrive on replies.
type monSession struct {
	m       *msgr.Messenger
	rt      *event.GoRuntime
	conn    *msgr.Connection
	replies chan *wire.MAuthReply
	reset   chan struct{}
}

type replyCollector struct {
	msgr.NopDispatcher
	s    *monSession
	once sync.Once
}

func (d *replyCollector) Dispatch(_ *msgr.Connection, m *msgr.Message) bool {
	if m.Header.Type != wire.MsgAuthReply {
		return false
	}
	r, err := wire.DecodeMAuthReply(m.Front)
	if err != nil {
		r = wire.MAuthReply{Result: -1, ResultMsg: "undecodable MAuthReply: " + err.Error()}
	}
	d.s.replies <- &r
	return true
}

func (d *replyCollector) HandleReset(*msgr.Connection) bool {
	d.once.Do(func() { close(d.s.reset) })
	return true
}

func (d *replyCollector) HandleRemoteReset(c *msgr.Connection) { d.HandleReset(c) }

func dialMon(t *testing.T, addr wire.EntityAddr, name wire.AuthEntityName) *monSession {
	t.Helper()
	return dialMonFeatures(t, addr, name, wire.FeaturesAll)
}

// dialMonFeatures is dialMon with the features our side offers (the session's negotiated
// features are at most these).
func dialMonFeatures(t *testing.T, addr wire.EntityAddr, name wire.AuthEntityName, features uint64) *monSession {
	t.Helper()
	s := &monSession{rt: &event.GoRuntime{}, replies: make(chan *wire.MAuthReply, 8), reset: make(chan struct{})}
	m, err := msgr.New(msgr.Config{
		Name: wire.NewName(wire.EntityType(name.Type), -1), Stack: epoll.New(epoll.Options{}), Runtime: s.rt,
		Workers: 1, Auth: &msgr.AuthNone{Name: name, MyType: wire.EntityType(name.Type)},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := proto.LossyClient(0)
	policy.FeaturesSupported = features
	m.SetPolicy(wire.EntityMon, policy)
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(&replyCollector{s: s}) // the first dispatcher makes it ready
	s.m = m
	t.Cleanup(func() {
		m.Shutdown()
		m.Wait()
		s.rt.Wait()
	})
	if s.conn, err = m.ConnectTo(wire.EntityMon, addr); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *monSession) send(t *testing.T, a *wire.MAuth) {
	t.Helper()
	msg := wire.NewMessage(wire.MsgAuth, a.AppendFront(nil))
	msg.Header.Priority = wire.PrioDefault
	if err := s.conn.SendMessage(msg); err != nil {
		t.Fatal(err)
	}
}

func (s *monSession) next(t *testing.T) *wire.MAuthReply {
	t.Helper()
	select {
	case r := <-s.replies:
		return r
	case <-s.reset:
		t.Fatal("the monitor reset the session")
	case <-time.After(20 * time.Second):
		t.Fatal("no MAuthReply within 20s")
	}
	return nil
}

// authenticate runs a client's whole exchange over the session; it returns the client's
// error, if any, and how many MAuth messages it sent.
func authenticate(t *testing.T, s *monSession, c *cephx.Client) (int, error) {
	t.Helper()
	sent := 1
	s.send(t, c.Start())
	for {
		next, err := c.Handle(s.next(t), time.Now())
		if err != nil || next == nil {
			return sent, err
		}
		s.send(t, next)
		sent++
	}
}

// TestInteropCephxRealMon authenticates Go cephx clients with a real monitor: the session
// key, service tickets, rotating secrets, tickets the Go verifier opens with those secrets,
// and refusals.
func TestInteropCephxRealMon(t *testing.T) {
	mon := startCephxMon(t)
	kr, err := cephx.ReadKeyring(mon.keyring)
	if err != nil {
		t.Fatal(err)
	}
	admin := wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}
	adminKey, err := kr.Key(admin)
	if err != nil {
		t.Fatal(err)
	}
	var adminClient *cephx.Client
	t.Run("session key and tickets", func(t *testing.T) {
		adminClient = cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Rand: crand.Reader})
		n, err := authenticate(t, dialMon(t, mon.addr, admin), adminClient)
		if err != nil {
			t.Fatal(err)
		}
		checkAuthenticated(t, adminClient, n, 2)
	})
	t.Run("principal session key", func(t *testing.T) {
		c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Separate: true, Rand: crand.Reader})
		n, err := authenticate(t, dialMon(t, mon.addr, admin), c)
		if err != nil {
			t.Fatal(err)
		}
		checkAuthenticated(t, c, n, 3)
	})
	t.Run("renewal", func(t *testing.T) {
		for _, separate := range []bool{false, true} {
			c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Separate: separate, Rand: crand.Reader})
			s := dialMon(t, mon.addr, admin)
			if _, err := authenticate(t, s, c); err != nil {
				t.Fatal(err)
			}
			renewRealMon(t, s, c, separate)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		wrong, _ := cephx.NewAESKey(crand.Reader, cephx.UtimeOf(time.Now()))
		c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: wrong, Rand: crand.Reader})
		_, err := authenticate(t, dialMon(t, mon.addr, admin), c)
		if !errors.Is(err, cephx.ErrDenied) || !strings.Contains(err.Error(), "EACCES") {
			t.Fatalf("wrong key: %v, want ErrDenied (EACCES)", err)
		}
		t.Logf("wrong key: %v", err)
	})
	t.Run("unknown entity", func(t *testing.T) {
		nobody := wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "nobody"}
		c := cephx.NewClient(cephx.ClientConfig{Name: nobody, Key: adminKey, Rand: crand.Reader})
		_, err := authenticate(t, dialMon(t, mon.addr, nobody), c)
		if !errors.Is(err, cephx.ErrDenied) {
			t.Fatalf("unknown entity: %v, want ErrDenied", err)
		}
		t.Logf("unknown entity: %v", err)
	})
	t.Run("daemon verifies a client's OSD ticket", func(t *testing.T) {
		if adminClient == nil || !adminClient.Done() {
			t.Skip("no admin session")
		}
		osdVerifiesTicket(t, mon, adminClient)
	})
}

// renewRealMon renews an authenticated client's tickets with the real monitor, as if 46
// minutes and then 55 hours had passed (the client's clock only: the monitor grants the same
// validities whenever it is asked): first the service tickets (CEPHX_GET_PRINCIPAL_SESSION_KEY),
// then the auth ticket (CEPHX_GET_AUTH_SESSION_KEY with the old ticket; the monitor encrypts
// the new ticket with the old session key), each time with new session keys, the same global
// id, and nothing due after.
func renewRealMon(t *testing.T, s *monSession, c *cephx.Client, separate bool) {
	t.Helper()
	gid := c.GlobalID()
	oldOSD, _ := c.Ticket(wire.EntityOSD)
	oldAuth, _ := c.Ticket(wire.EntityAuth)
	for _, step := range []struct {
		after time.Duration
		want  []uint16
	}{
		{46 * time.Minute, []uint16{cephx.GetPrincipalSessionKey}},
		{55 * time.Hour, map[bool][]uint16{false: {cephx.GetAuthSessionKey},
			true: {cephx.GetAuthSessionKey, cephx.GetPrincipalSessionKey}}[separate]},
	} {
		now := time.Now().Add(step.after)
		next, err := c.Renew(now)
		if err != nil || next == nil {
			t.Fatalf("Renew at +%v: %v %v", step.after, next, err)
		}
		var sent []uint16
		for next != nil {
			req, err := cephx.DecodeRequest(next.AuthPayload)
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, req.Type)
			s.send(t, next)
			if next, err = c.Handle(s.next(t), now); err != nil {
				t.Fatalf("renewal at +%v: %v", step.after, err)
			}
		}
		if !slices.Equal(sent, step.want) || !c.Done() || c.NeedRenewal(now) != 0 || c.GlobalID() != gid {
			t.Fatalf("separate=%v, +%v: sent %#x (want %#x), done %v, due %#x, global id %d (was %d)", separate,
				step.after, sent, step.want, c.Done(), c.NeedRenewal(now), c.GlobalID(), gid)
		}
		t.Logf("separate=%v, +%v: renewed with %#x", separate, step.after, sent)
	}
	if osdT, _ := c.Ticket(wire.EntityOSD); osdT.SessionKey.Equal(oldOSD.SessionKey) {
		t.Fatal("the OSD ticket was not renewed")
	}
	if a, _ := c.Ticket(wire.EntityAuth); a.SessionKey.Equal(oldAuth.SessionKey) {
		t.Fatal("the auth ticket was not renewed")
	}
}

func checkAuthenticated(t *testing.T, c *cephx.Client, sent, wantSent int) {
	t.Helper()
	sk, ok := c.SessionKey()
	if !c.Done() || c.GlobalID() == 0 || !ok || len(sk.Secret) != cephx.AESKeyLen || sent != wantSent {
		t.Fatalf("done %v global id %d session key %v, %d MAuth sent (want %d)", c.Done(), c.GlobalID(), ok, sent, wantSent)
	}
	for _, svc := range []wire.EntityType{wire.EntityMon, wire.EntityOSD, wire.EntityMgr, wire.EntityAuth} {
		tk, ok := c.Ticket(svc)
		if !ok || len(tk.Blob.Blob) == 0 || tk.SessionKey.IsZero() || !tk.Expires.After(time.Now()) {
			t.Errorf("no usable %s ticket: %+v", svc, tk)
			continue
		}
		t.Logf("%s ticket: secret id %d, %d-byte blob, expires in %v", svc, tk.Blob.SecretID, len(tk.Blob.Blob),
			time.Until(tk.Expires).Round(time.Second))
	}
	t.Logf("global id %d", c.GlobalID())
}

// osdVerifiesTicket creates osd.0 with the real CLI, authenticates as osd.0 and fetches the
// OSD rotating secrets with CEPHX_GET_ROTATING_KEY, then checks that a ConnVerifier holding
// those secrets accepts the admin client's authorizer for the OSD service after the
// challenge round, that the client accepts the verifier's reply, and that the same
// authorizers replayed on another connection are refused.
func osdVerifiesTicket(t *testing.T, mon *cephxMon, admin *cephx.Client) {
	osdKeyring := filepath.Join(mon.dir, "osd.0.keyring")
	mon.ceph(t, "auth", "get-or-create", "osd.0", "mon", "allow profile osd", "osd", "allow *", "mgr", "allow profile osd", "-o", osdKeyring)
	kr, err := cephx.ReadKeyring(osdKeyring)
	if err != nil {
		t.Fatal(err)
	}
	osd := wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}
	osdKey, err := kr.Key(osd)
	if err != nil {
		t.Fatal(err)
	}
	c := cephx.NewClient(cephx.ClientConfig{Name: osd, Key: osdKey, Rand: crand.Reader})
	s := dialMon(t, mon.addr, osd)
	if _, err := authenticate(t, s, c); err != nil {
		t.Fatal(err)
	}
	req, err := c.RequestRotating()
	if err != nil {
		t.Fatal(err)
	}
	s.send(t, req)
	if next, err := c.Handle(s.next(t), time.Now()); err != nil || next != nil {
		t.Fatalf("rotating: %v %v", next, err)
	}
	rot := c.Rotating()
	if len(rot.Secrets) == 0 {
		t.Fatal("no rotating secrets")
	}
	t.Logf("osd rotating secrets: %d, ids %d..%d", len(rot.Secrets), rot.Secrets[0].ID, rot.MaxVer)
	keys := &cephx.ServiceKeys{Service: uint32(wire.EntityOSD), Rotating: rot}

	az, err := admin.Authorizer(wire.EntityOSD)
	if err != nil {
		t.Fatal(err)
	}
	first := az.Bytes()
	v := cephx.NewConnVerifier(keys, crand.Reader, true)
	verdict, challenge, _, err := v.Verify(first)
	if verdict != cephx.Challenge || err != nil {
		t.Fatalf("first authorizer: %v %v", verdict, err)
	}
	if err := az.AddChallenge(challenge); err != nil {
		t.Fatal(err)
	}
	verdict, reply, peer, err := v.Verify(az.Bytes())
	if verdict != cephx.Accept || err != nil {
		t.Fatalf("answered authorizer: %v %v", verdict, err)
	}
	if _, err := az.VerifyReply(reply); err != nil {
		t.Fatal(err)
	}
	if peer.Ticket.Name.String() != "client.admin" || peer.Ticket.GlobalID != admin.GlobalID() || !peer.SessionKey.Equal(az.SessionKey) {
		t.Fatalf("peer %+v", peer.Ticket)
	}
	t.Logf("osd.0 verified client.admin (global id %d, caps %d bytes) with a real rotating secret", peer.Ticket.GlobalID, len(peer.Ticket.Caps.Caps))
	replay := cephx.NewConnVerifier(keys, crand.Reader, true)
	if verdict, _, _, _ := replay.Verify(first); verdict != cephx.Challenge {
		t.Fatalf("replayed first authorizer: %v", verdict)
	}
	if verdict, _, _, err := replay.Verify(az.Bytes()); verdict != cephx.Reject || !errors.Is(err, cephx.ErrBadAuthorizer) {
		t.Fatalf("replayed answer: %v %v", verdict, err)
	}
}
