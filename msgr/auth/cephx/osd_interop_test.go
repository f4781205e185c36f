package cephx_test

import (
	"bufio"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A real OSD as the referee of the client side of authorizers and of message signatures:
// a Go client gets an OSD ticket from the real monitor, opens a msgr1 session with the real
// ceph-osd presenting a cephx authorizer (the OSD challenges it, CEPHX_V2), checks the OSD's
// reply, then sends a signed MCommand ("version", what `ceph tell osd.0 version` sends) and
// checks the signature of the OSD's MCommandReply. A message with a bad signature makes the
// OSD drop the connection without answering, and a wrong answer to the challenge gets
// BADAUTHORIZER. The session is driven by hand with msgr/wire (this package's tests must not
// depend on msgr/proto's authorizer support, which is phase 2 of the cephx work).

// Message types of `ceph tell` (CEPH_MSG_COMMAND, CEPH_MSG_COMMAND_REPLY).
const (
	msgCommand      uint16 = 97
	msgCommandReply uint16 = 98
)

func requireOSD(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ceph-osd"); err != nil {
		if os.Getenv("MSGRSIM_REQUIRE_CEPH") != "" {
			t.Fatal("ceph-osd not installed: apt-get install ceph-osd")
		}
		t.Skip("SKIPPING CEPH OSD INTEROPERABILITY TEST: ceph-osd not installed (apt-get install ceph-osd)")
	}
}

// startOSD adds osd.0 (memstore) to the monitor; it returns its address.
func startOSD(t *testing.T, mon *cephxMon) wire.EntityAddr {
	t.Helper()
	requireOSD(t)
	port := freePort(t) // a hint: the OSD binds the first free port from here
	out, err := exec.Command("../../../scripts/ceph/cephx-osd-up.sh", mon.dir, fmt.Sprint(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("cephx-osd-up.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("../../../scripts/ceph/cephx-osd-up.sh", mon.dir, "stop").Run() })
	m := regexp.MustCompile(`addr=(v1:\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("cephx-osd-up.sh said %q", out)
	}
	a, err := wire.ParseEntityAddr(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (m *cephxMon) fsid(t *testing.T) [16]byte {
	t.Helper()
	conf, err := os.ReadFile(m.conf)
	if err != nil {
		t.Fatal(err)
	}
	sm := regexp.MustCompile(`(?m)^fsid = ([0-9a-f-]{36})$`).FindSubmatch(conf)
	if sm == nil {
		t.Fatal("no fsid in ceph.conf")
	}
	var fsid [16]byte
	b, err := hex.DecodeString(strings.ReplaceAll(string(sm[1]), "-", ""))
	if err != nil || len(b) != 16 {
		t.Fatalf("fsid %s: %v", sm[1], err)
	}
	copy(fsid[:], b)
	return fsid
}

// osdSession is a msgr1 session with an OSD driven by hand.
type osdSession struct {
	t        *testing.T
	conn     net.Conn
	r        *bufio.Reader
	features uint64
	key      cephx.Key
	outSeq   uint64
}

func (s *osdSession) read(n int) []byte {
	s.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(s.r, b); err != nil {
		s.t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

func (s *osdSession) write(b []byte) {
	s.t.Helper()
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatal(err)
	}
}

// dialOSD does the banner and address exchange.
func dialOSD(t *testing.T, addr wire.EntityAddr) *osdSession {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", addr.Port()), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	s := &osdSession{t: t, conn: c, r: bufio.NewReader(c)}
	me, _ := wire.ParseEntityAddr(fmt.Sprintf("v1:127.0.0.1:0/%d", time.Now().UnixNano()&0x7fffffff))
	s.write(me.AppendLegacy(wire.AppendBanner(nil)))
	if err := wire.CheckBanner(s.read(len(wire.Banner))); err != nil {
		t.Fatal(err)
	}
	s.read(2 * wire.AddrLen) // the OSD's address and ours as it sees it
	return s
}

// connect sends ceph_msg_connect with the authorizer and returns the reply and its authorizer.
func (s *osdSession) connect(authorizer []byte) (wire.ConnectReply, []byte) {
	s.t.Helper()
	cm := wire.Connect{Features: wire.FeaturesAll, HostType: wire.EntityClient, GlobalSeq: 1,
		ProtocolVersion: wire.ProtoOSDClient, AuthorizerProtocol: wire.AuthCephx,
		AuthorizerLen: uint32(len(authorizer)), Flags: wire.ConnectLossy}
	s.write(append(cm.Append(nil), authorizer...))
	r, err := wire.DecodeConnectReply(s.read(wire.ConnectReplyLen), wire.DefaultLimits())
	if err != nil {
		s.t.Fatal(err)
	}
	return r, s.read(int(r.AuthorizerLen))
}

// open finishes the handshake after a SEQ or READY reply.
func (s *osdSession) open(r wire.ConnectReply) {
	s.t.Helper()
	s.features = r.Features & wire.FeaturesAll
	if r.Tag == wire.TagSeq {
		s.read(wire.SeqLen)
		s.write(wire.AppendSeq(nil, 0))
	}
}

// sendCommand sends a signed MCommand (tamper flips the signature).
func (s *osdSession) sendCommand(fsid [16]byte, cmd string, tamper bool) {
	s.t.Helper()
	front := append([]byte(nil), fsid[:]...)
	front = binary.LittleEndian.AppendUint32(front, 1)
	front = wire.AppendCephString(front, cmd)
	s.outSeq++
	m := &wire.Message{Header: wire.Header{Seq: s.outSeq, Tid: s.outSeq, Type: msgCommand, Priority: wire.PrioDefault,
		Version: 1, CompatVersion: 1, Src: wire.NewName(wire.EntityClient, -1)}, Front: front}
	m.Seal(true, true)
	if err := cephx.Sign(s.key, m, s.features); err != nil {
		s.t.Fatal(err)
	}
	if tamper {
		m.Footer.Sig ^= 1
	}
	s.write(wire.AppendMessageFrame(nil, m, false))
}

// nextMessage reads frames until a message and returns it; an error when the OSD closes.
func (s *osdSession) nextMessage() (*wire.Message, error) {
	for {
		tag, err := s.r.ReadByte()
		if err != nil {
			return nil, err
		}
		switch wire.Tag(tag) {
		case wire.TagAck:
			s.read(8)
		case wire.TagKeepalive2, wire.TagKeepalive2Ack:
			s.read(8)
		case wire.TagKeepalive:
		case wire.TagClose:
			return nil, io.EOF
		case wire.TagMsg:
			hb := s.read(wire.HeaderLen)
			h, err := wire.DecodeHeader(hb, true)
			if err != nil {
				return nil, err
			}
			rest := s.read(int(h.FrontLen+h.MiddleLen+h.DataLen) + wire.FooterLen)
			m, _, err := wire.DecodeMessage(append(hb, rest...), false, wire.DefaultLimits())
			if err != nil {
				return nil, err
			}
			return &m, nil
		default:
			return nil, fmt.Errorf("tag %d", tag)
		}
	}
}

// authorizedOSDSession opens a session with the OSD using the client's OSD ticket.
func authorizedOSDSession(t *testing.T, osd wire.EntityAddr, c *cephx.Client) (*osdSession, *cephx.ClientAuthorizer) {
	t.Helper()
	az, err := c.Authorizer(wire.EntityOSD)
	if err != nil {
		t.Fatal(err)
	}
	s := dialOSD(t, osd)
	r, reply := s.connect(az.Bytes())
	if r.Tag != wire.TagChallengeAuthorizer || len(reply) == 0 {
		t.Fatalf("the OSD answered the first authorizer with %v (%d bytes), want CHALLENGE_AUTHORIZER", r.Tag, len(reply))
	}
	if err := az.AddChallenge(reply); err != nil {
		t.Fatal(err)
	}
	r, reply = s.connect(az.Bytes())
	if r.Tag != wire.TagSeq && r.Tag != wire.TagReady {
		t.Fatalf("the OSD answered the challenge answer with %v", r.Tag)
	}
	if _, err := az.VerifyReply(reply); err != nil {
		t.Fatalf("the OSD's authorizer reply: %v", err)
	}
	s.key = az.SessionKey
	s.open(r)
	return s, az
}

// TestInteropCephxRealOSD: see the comment at the top of this file.
func TestInteropCephxRealOSD(t *testing.T) {
	mon := startCephxMon(t)
	requireOSD(t)
	osd := startOSD(t, mon)
	kr, err := cephx.ReadKeyring(mon.keyring)
	if err != nil {
		t.Fatal(err)
	}
	admin := wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "admin"}
	key, _ := kr.Key(admin)
	c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: key, Rand: crand.Reader})
	if _, err := authenticate(t, dialMon(t, mon.addr, admin), c); err != nil {
		t.Fatal(err)
	}
	fsid := mon.fsid(t)

	t.Run("signed command and reply", func(t *testing.T) {
		s, _ := authorizedOSDSession(t, osd, c)
		if s.features&wire.FeatureCephxV2 == 0 || s.features&wire.FeatureMsgAuth == 0 {
			t.Fatalf("negotiated features %#x lack CEPHX_V2 or MSG_AUTH", s.features)
		}
		s.sendCommand(fsid, `{"prefix": "version"}`, false)
		m, err := s.nextMessage()
		if err != nil {
			t.Fatalf("no reply from the OSD: %v", err)
		}
		if m.Header.Type != msgCommandReply || m.Footer.Flags&wire.FooterSigned == 0 {
			t.Fatalf("reply type %d flags %#x", m.Header.Type, m.Footer.Flags)
		}
		if err := cephx.CheckSignature(s.key, m, s.features); err != nil {
			t.Fatalf("the OSD's reply: %v", err)
		}
		var v struct{ Version, Release string }
		r := int32(binary.LittleEndian.Uint32(m.Front))
		if err := json.Unmarshal(m.Data, &v); err != nil || r != 0 || v.Version == "" {
			t.Fatalf("reply r=%d data %q: %v", r, m.Data, err)
		}
		t.Logf("signed MCommand accepted; signed MCommandReply verified: ceph %s (%s)", v.Version, v.Release)
	})
	t.Run("bad signature", func(t *testing.T) {
		s, _ := authorizedOSDSession(t, osd, c)
		s.sendCommand(fsid, `{"prefix": "version"}`, true)
		if m, err := s.nextMessage(); err == nil {
			t.Fatalf("the OSD answered a badly signed command: type %d", m.Header.Type)
		} else {
			t.Logf("the OSD dropped the session: %v", err)
		}
		// Ceph's log is written by a thread of its own: give it time.
		deadline := time.Now().Add(15 * time.Second)
		for {
			log, _ := os.ReadFile(filepath.Join(mon.dir, "ceph-osd.0.log"))
			if strings.Contains(string(log), "Signature check failed") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(`the OSD log has no "Signature check failed"`)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("wrong challenge answer", func(t *testing.T) {
		az, err := c.Authorizer(wire.EntityOSD)
		if err != nil {
			t.Fatal(err)
		}
		s := dialOSD(t, osd)
		r, ch := s.connect(az.Bytes())
		if r.Tag != wire.TagChallengeAuthorizer {
			t.Fatalf("first reply %v", r.Tag)
		}
		pt, err := cephx.Open(az.SessionKey, ch)
		if err != nil {
			t.Fatal(err)
		}
		pt[1]++ // answer challenge+1 (plus the +1 AddChallenge adds)
		forged, _ := cephx.Seal(az.SessionKey, pt)
		if err := az.AddChallenge(forged); err != nil {
			t.Fatal(err)
		}
		if r, _ = s.connect(az.Bytes()); r.Tag != wire.TagBadAuthorizer {
			t.Fatalf("a wrong answer got %v, want BADAUTHORIZER", r.Tag)
		}
	})
	t.Run("replayed authorizer", func(t *testing.T) {
		_, az := authorizedOSDSession(t, osd, c)
		s := dialOSD(t, osd)
		if r, _ := s.connect(az.Bytes()); r.Tag != wire.TagChallengeAuthorizer {
			t.Fatalf("a replayed answer on a new connection got %v, want a fresh CHALLENGE_AUTHORIZER", r.Tag)
		}
		if r, _ := s.connect(az.Bytes()); r.Tag != wire.TagBadAuthorizer {
			t.Fatalf("replaying the old answer to the new challenge got %v, want BADAUTHORIZER", r.Tag)
		}
	})
}
