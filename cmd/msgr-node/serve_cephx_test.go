package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	crand "crypto/rand"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// startServeWith runs `msgr-node serve` in-process with extra flags, logging to a file.
func startServeWith(t *testing.T, port int, extra ...string) (logPath string, stop func()) {
	t.Helper()
	logPath = filepath.Join(t.TempDir(), "serve.log")
	ch := make(chan struct{})
	done := make(chan int)
	args := append([]string{"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-log", logPath}, extra...)
	go func() {
		var out, errb bytes.Buffer
		done <- serveCmd(args, &out, &errb, ch)
	}()
	waitListening(t, port)
	return logPath, func() {
		close(ch)
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}
}

// writeKeyring writes a keyring with client.admin and returns its path and the key.
func writeKeyring(t *testing.T) (string, cephx.Key) {
	t.Helper()
	k, err := cephx.NewAESKey(crand.Reader, cephx.UtimeOf(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	kr := cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: adminName, Key: k,
		Caps: map[string]string{"mon": "allow *", "osd": "allow *"}}}}
	b, err := kr.Format()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin.keyring")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k
}

var adminName = wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}

// events of one kind in the log.
func eventsOf(evs []map[string]any, kind string) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if ev["event"] == kind {
			out = append(out, ev)
		}
	}
	return out
}

// 5. The real ceph CLI with a keyring → msgr-node serve -auth cephx: negotiation, the proof
// checked, the auth ticket and session key accepted (the CLI goes on to its next message);
// with a wrong keyring it is refused (EACCES) and sends nothing more.
func TestInteropCephCLIToServeCephx(t *testing.T) {
	requireTools(t, "ceph", "ceph-authtool")
	keyring, _ := writeKeyring(t)
	wrong := filepath.Join(t.TempDir(), "wrong.keyring")
	if b, err := exec.Command("ceph-authtool", "--create-keyring", wrong, "-n", "client.admin", "--gen-key").CombinedOutput(); err != nil {
		t.Fatalf("ceph-authtool: %v\n%s", err, b)
	}
	for _, tc := range []struct {
		keyring string
		ok      bool
	}{{keyring, true}, {wrong, false}} {
		port := freePort(t)
		logPath, stop := startServeWith(t, port, "-auth", "cephx", "-keyring", keyring)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, _ := exec.CommandContext(ctx, "ceph", "--conf", "/dev/null", "-m", fmt.Sprintf("v1:127.0.0.1:%d", port),
			"-n", "client.admin", "-k", tc.keyring, "--auth_client_required", "cephx", "--connect-timeout", "3", "health").CombinedOutput()
		cancel()
		stop()
		evs := readEvents(t, logPath)
		auths := eventsOf(evs, "auth")
		if len(auths) < 2 || auths[0]["request"] != "negotiate" || auths[1]["request"] != "get_auth_session_key" {
			t.Fatalf("keyring ok=%v: auth events %v\nceph: %s", tc.ok, auths, out)
		}
		afterAuth := -1 // the type of the first message after the session key reply
		seenKey := false
		for _, ev := range evs {
			if ev["event"] == "auth" && ev["request"] == "get_auth_session_key" {
				seenKey = true
			} else if seenKey && ev["event"] == "message" && ev["type"] != float64(wire.MsgAuth) && afterAuth < 0 {
				afterAuth = int(ev["type"].(float64))
			}
		}
		result := auths[1]["result"].(float64)
		switch {
		case tc.ok && (result != 0 || afterAuth < 0):
			t.Errorf("good keyring: result %v, next message %d\n%v\nceph: %s", result, afterAuth, evs, out)
		case !tc.ok && (result != -13 || afterAuth >= 0 || !bytes.Contains(out, []byte("permission denied"))):
			t.Errorf("wrong keyring: result %v, next message %d\n%v\nceph: %s", result, afterAuth, evs, out)
		}
		t.Logf("keyring ok=%v: auth results %v, %v; then message type %d", tc.ok, auths[0]["result"], result, afterAuth)
	}
}

// A Go monitor peer holding a MON ticket from serve's auth service connects with a cephx
// authorizer: the challenge round, a signed session both ways (serve logs signature_ok true
// for every message and answers signed), and a peer signing with the wrong key is faulted
// before dispatch (logged with signature_ok false).
func TestServeCephxSignedSession(t *testing.T) {
	keyring, key := writeKeyring(t)
	port := freePort(t)
	logPath, stop := startServeWith(t, port, "-auth", "cephx", "-keyring", keyring)
	target, _ := wire.ParseEntityAddr(fmt.Sprintf("v1:127.0.0.1:%d/0", port))
	l, err := loginCephx(target, adminName, key, 10*time.Second)
	if l != nil {
		defer l.close()
	}
	if err != nil {
		t.Fatal(err)
	}
	monTicket, ok := l.cl.Ticket(wire.EntityMon)
	if !ok {
		t.Fatal("no MON ticket")
	}
	good := newMonTicketPeer(t, l.cl.GlobalID(), monTicket, nil)
	c := good.send(t, target, 3)
	deadline := time.Now().Add(10 * time.Second)
	for good.pongs() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if good.pongs() < 3 || !c.Signed() {
		t.Fatalf("%d pongs, signed %v", good.pongs(), c.Signed())
	}
	wrongKey, _ := cephx.NewAESKey(crand.Reader, cephx.UtimeOf(time.Now()))
	bad := newMonTicketPeer(t, l.cl.GlobalID(), monTicket, &wrongKey)
	bad.send(t, target, 1)
	time.Sleep(500 * time.Millisecond)
	stop()
	evs := readEvents(t, logPath)
	signed := 0
	for _, ev := range eventsOf(evs, "message") {
		if ev["type"] == float64(wire.MsgPing) {
			if ev["signature_ok"] != true {
				t.Errorf("an MPing logged without signature_ok true: %v", ev)
			}
			signed++
		}
	}
	if signed != 3 {
		t.Errorf("%d signed MPing dispatched, want the good peer's 3", signed)
	}
	refused := false
	for _, ev := range eventsOf(evs, "fault") {
		if ev["class"] == "bad_signature" && ev["signature_ok"] == false {
			refused = true
		}
	}
	if !refused {
		t.Errorf("no fault with signature_ok false in %v", evs)
	}
}

// monTicketPeer is a Go messenger of type mon presenting a MON ticket.
type monTicketPeer struct {
	msgr.NopDispatcher
	m  *msgr.Messenger
	rt *event.GoRuntime
	n  chan struct{}
}

func (p *monTicketPeer) Dispatch(_ *msgr.Connection, m *msgr.Message) bool {
	if m.Header.Type == wire.MsgPing {
		p.n <- struct{}{}
	}
	return true
}

func (p *monTicketPeer) pongs() int { return len(p.n) }

// wrongSession signs with another key than the ticket's.
type wrongSession struct {
	*cephx.Messenger
	key cephx.Key
}

func (w wrongSession) Client(peer wire.EntityType, rand io.Reader) msgr.ClientAuth {
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

func newMonTicketPeer(t *testing.T, gid uint64, ticket cephx.ClientTicket, wrong *cephx.Key) *monTicketPeer {
	t.Helper()
	a := cephx.NewMessenger(wire.EntityMon)
	a.SetTickets(gid, ticket)
	var auth msgr.Auth = a
	if wrong != nil {
		auth = wrongSession{a, *wrong}
	}
	p := &monTicketPeer{rt: &event.GoRuntime{}, n: make(chan struct{}, 100)}
	m, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityMon, 1), Stack: mustRealStack(t), Runtime: p.rt,
		Workers: 1, Auth: auth, ClusterProtocol: wire.ProtoMonPeer})
	if err != nil {
		t.Fatal(err)
	}
	m.SetPolicy(wire.EntityMon, proto.LosslessPeerReuse(0))
	if err := m.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.AddDispatcherTail(p)
	p.m = m
	t.Cleanup(func() {
		m.Shutdown()
		m.Wait()
		p.rt.Wait()
	})
	return p
}

func (p *monTicketPeer) send(t *testing.T, target wire.EntityAddr, n int) *msgr.Connection {
	t.Helper()
	c, err := p.m.ConnectTo(wire.EntityMon, target)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := c.SendMessage(wire.NewMessage(wire.MsgPing, nil)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestServeCephxRequirements: serve's auth service applies its messenger's cephx
// requirements (Ceph 16's defaults) to each connection's features, as a real monitor does: a
// client whose session lacks CEPHX_V2 is answered EOPNOTSUPP to its first MAuth (logged with
// the reason); one lacking both CEPHX_V2 and MSG_AUTH is not (the version is checked only with
// MSG_AUTH), nor is a client with every feature.
func TestServeCephxRequirements(t *testing.T) {
	keyring, key := writeKeyring(t)
	port := freePort(t)
	logPath, stop := startServeWith(t, port, "-auth", "cephx", "-keyring", keyring)
	target, _ := wire.ParseEntityAddr(fmt.Sprintf("v1:127.0.0.1:%d/0", port))
	for _, tc := range []struct {
		name     string
		features uint64
		refused  bool
	}{
		{"no CEPHX_V2", wire.FeaturesAll &^ wire.FeatureCephxV2, true},
		{"neither CEPHX_V2 nor MSG_AUTH", wire.FeaturesAll &^ wire.FeatureCephxV2 &^ wire.FeatureMsgAuth, false},
		{"every feature", wire.FeaturesAll, false},
	} {
		l, err := loginCephxFeatures(target, adminName, key, 10*time.Second, tc.features)
		if l != nil {
			l.close()
		}
		if tc.refused != (err != nil) {
			t.Errorf("%s: %v, want refused %v", tc.name, err, tc.refused)
		}
		if tc.refused && (!errors.Is(err, cephx.ErrDenied) || !strings.Contains(err.Error(), "EOPNOTSUPP")) {
			t.Errorf("%s: %v, want ErrDenied EOPNOTSUPP", tc.name, err)
		}
	}
	stop()
	var refusals []map[string]any
	for _, ev := range eventsOf(readEvents(t, logPath), "auth") {
		if ev["result"] != float64(0) {
			refusals = append(refusals, ev)
		}
	}
	if len(refusals) != 1 || refusals[0]["result"] != float64(-95) || refusals[0]["request"] != "negotiate" ||
		!strings.Contains(fmt.Sprint(refusals[0]["reason"]), "CEPHX_V2") {
		t.Fatalf("refusals logged: %v, want one EOPNOTSUPP to negotiate for CEPHX_V2", refusals)
	}
}
