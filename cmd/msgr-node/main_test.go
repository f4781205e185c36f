package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

const streams = "../../msgr/wire/testdata/streams"

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := realMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// The ceph-lab annotator's ground truth (msgr1_annotate.py --expect) for each captured stream.
type annotation struct {
	Bytes         int            `json:"bytes"`
	Complete      bool           `json:"complete"`
	Truncated     *string        `json:"truncated"` // "client addr: need 136 bytes at offset 9, only 0 left"
	HandshakeDone bool           `json:"handshake_done"`
	HandshakeEnd  *int           `json:"handshake_end_offset"`
	ReplyTags     []string       `json:"handshake_reply_tags"`
	MyAddr        *annotatedAddr `json:"my_addr"`
	ServerAddr    *annotatedAddr `json:"server_addr"`
	PeerAddr      *annotatedAddr `json:"peer_addr_as_seen"`
	Frames        map[string]int `json:"frames"`
	MessageTypes  map[string]int `json:"message_types"`
	AllCRCOK      bool           `json:"all_crc_ok"`
}

type annotatedAddr struct {
	Type   uint32 `json:"type"`
	Nonce  uint32 `json:"nonce"`
	Family uint16 `json:"family"`
	Port   uint16 `json:"port"`
	IP     string `json:"ip"`
}

var reTruncated = regexp.MustCompile(`^(.*): need (\d+) bytes at offset (\d+), only (\d+) left$`)

// view renders the annotation in decode's summary terms, for comparison.
func (a annotation) view(t *testing.T) string {
	t.Helper()
	var stop *stopPoint
	if a.Truncated != nil {
		m := reTruncated.FindStringSubmatch(*a.Truncated)
		if m == nil {
			t.Fatalf("annotator's truncated %q: not a handshake truncation this test knows", *a.Truncated)
		}
		need, _ := strconv.Atoi(m[2])
		off, _ := strconv.Atoi(m[3])
		have, _ := strconv.Atoi(m[4])
		stop = &stopPoint{In: m[1], Offset: off, Need: need, Have: have}
	}
	addr := func(x *annotatedAddr) *addrJSON {
		if x == nil {
			return nil
		}
		return &addrJSON{Type: x.Type, Nonce: x.Nonce, Family: x.Family, IP: x.IP, Port: x.Port}
	}
	return summaryView(decodeSummary{Bytes: a.Bytes, Complete: a.Complete, Truncated: stop, HandshakeDone: a.HandshakeDone,
		HandshakeEnd: a.HandshakeEnd, ReplyTags: a.ReplyTags, MyAddr: addr(a.MyAddr), ServerAddr: addr(a.ServerAddr),
		PeerAddr: addr(a.PeerAddr), Frames: a.Frames, MessageTypes: a.MessageTypes, AllCRCOK: a.AllCRCOK})
}

// summaryView is a summary as canonical JSON (pointers followed, maps sorted).
func summaryView(s decodeSummary) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// The captured conversations: a real ceph CLI with a real ceph-mon, with a non-Ceph server,
// and (twomon.*) a real ceph-mon mon.a with the Go mon.b, both injecting socket failures 1
// in 15, so that many handshakes were cut short: streams that end after the banner, that are
// empty, or whose client closed before its SEQ u64.
var capturedConversations = []string{
	streams + "/ceph-s-msgr1.conn0", streams + "/ceph-s-msgr1.conn1", streams + "/ceph-vs-fake-ready-msgr1.conn0",
	"testdata/streams/twomon.conn2", "testdata/streams/twomon.conn4", "testdata/streams/twomon.conn5",
	"testdata/streams/twomon.conn7", "testdata/streams/twomon.conn10", "testdata/streams/twomon.conn13",
	"testdata/streams/twomon.conn26", "testdata/streams/twomon.conn37", "testdata/streams/twomon.conn60",
	"testdata/streams/twomon.conn67",
}

// decode on every captured stream agrees with the independent annotator: bytes, completeness
// and where a truncated stream stopped, whether the handshake finished and where it ended,
// reply tags, the handshake addresses with their nonces, frames by tag, message types and
// counts, every crc ok.
func TestDecodeMatchesAnnotator(t *testing.T) {
	truncated := 0
	for _, conv := range capturedConversations {
		for _, side := range []string{"client", "server"} {
			t.Run(filepath.Base(conv)+"/"+side, func(t *testing.T) {
				file, peer := conv+".c2s.bin", conv+".s2c.bin"
				if side == "server" {
					file, peer = peer, file
				}
				code, out, errOut := run("decode", "-side", side, file, "-peer", peer)
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				var got decodeSummary
				if err := json.Unmarshal([]byte(lastLine(out)), &got); err != nil {
					t.Fatal(err)
				}
				var want annotation
				b, err := os.ReadFile(file + ".expect.json")
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(b, &want); err != nil {
					t.Fatal(err)
				}
				if g, w := summaryView(got), want.view(t); g != w {
					t.Fatalf("decode summary differs from the annotator's\n got %s\nwant %s", g, w)
				}
				if got.Truncated != nil {
					truncated++
				}
				checkElementLines(t, out, got)
			})
		}
	}
	if truncated < 6 {
		t.Errorf("only %d truncated streams: the captures should have at least 6", truncated)
	}
}

// checkElementLines: one JSON line per element before the summary: the session frames the
// summary counts, and the handshake elements of any stream that got past 8 bytes.
func checkElementLines(t *testing.T, out string, sum decodeSummary) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	session, handshake := 0, 0
	for _, l := range lines[:len(lines)-1] {
		var e element
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("element line %q: %v", l, err)
		}
		if _, ok := sum.Frames[e.Kind]; ok {
			session++
		} else {
			handshake++
		}
	}
	frames := 0
	for _, n := range sum.Frames {
		frames += n
	}
	if session != frames || (sum.Bytes >= 9) != (handshake > 0) {
		t.Fatalf("%d session and %d handshake element lines for %d frames and %d bytes", session, handshake, frames, sum.Bytes)
	}
}

func TestDecodeIncompleteAndGarbage(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(streams, "ceph-s-msgr1.conn0.s2c.bin"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.bin")
	if err := os.WriteFile(cut, data[:400], 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("decode", "-side", "server", cut)
	if code != 0 || !strings.Contains(lastLine(out), `"complete":false`) {
		t.Fatalf("a stream cut mid-frame: exit %d, last line %s, stderr %s", code, lastLine(out), errOut)
	}
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, append([]byte("ceph v027"), make([]byte, 300)...), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := append([]byte("ceph v027"), 0xff, 1, 2, 3)
	if err := os.WriteFile(bad, append(garbage, make([]byte, 300)...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run("decode", "-side", "client", bad)
	if code != 1 || !strings.Contains(errOut, " at ") {
		t.Fatalf("garbage: exit %d, stderr %q: want exit 1 and an error naming the offset", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"ping"}, {"ping", "127.0.0.1"}, {"ping", "-x", "v1:1.2.3.4:1"},
		{"serve"}, {"serve", "-addr", "nope"}, {"decode", "onlyone"}, {"decode", "-side", "both", "x"}, {"ping", "-name", "nobody", "v1:127.0.0.1:1"},
		{"peer"}, {"peer", "-addr", "127.0.0.1:1", "-fsid", "43073090-abd5-4d5b-a8fd-1fe645e6ca8c"},
		{"peer", "-addr", "127.0.0.1:1", "-peer", "mon.a", "-fsid", "43073090-abd5-4d5b-a8fd-1fe645e6ca8c"},
		{"peer", "-addr", "127.0.0.1:1", "-peer", "mon.a=v1:127.0.0.1:2", "-fsid", "not-a-uuid"},
		{"peer", "-name", "osd.1", "-addr", "127.0.0.1:1", "-peer", "mon.a=v1:127.0.0.1:2", "-fsid", "43073090-abd5-4d5b-a8fd-1fe645e6ca8c"}} {
		if code, _, errOut := run(args...); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 8 {
			t.Errorf("%v: exit %d (want 2), stderr %q", args, code, errOut)
		}
	}
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

// startServe runs `msgr-node serve` in-process, logging to a file; stop it with the returned func.
func startServe(t *testing.T, port int) (logPath string, stop func()) {
	t.Helper()
	logPath = filepath.Join(t.TempDir(), "serve.log")
	ch := make(chan struct{})
	done := make(chan int)
	go func() {
		var out, errb bytes.Buffer
		done <- serveCmd([]string{"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-log", logPath}, &out, &errb, ch)
	}()
	waitListening(t, port)
	return logPath, func() {
		close(ch)
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d", code)
		}
	}
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %d", port)
}

// readEvents parses the serve log.
func readEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// A Go client pings a Go server: handshake (SEQ), keepalive round trip, MAuth → MAuthReply.
func TestPingServe(t *testing.T) {
	port := freePort(t)
	logPath, stop := startServe(t, port)
	code, out, errOut := run("ping", "-json", "-timeout", "5s", fmt.Sprintf("v1:127.0.0.1:%d", port))
	stop()
	if code != 0 {
		t.Fatalf("ping exit %d: %s %s", code, out, errOut)
	}
	var res pingResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Handshake != "ok" || res.ReplyTag != "SEQ" || res.Features != fmt.Sprintf("%#x", wire.FeaturesAll) ||
		res.AuthReply == nil || res.AuthReply.Protocol != 1 || res.AuthReply.Result != 0 || res.AuthReply.GlobalID == 0 ||
		res.KeepaliveRTT <= 0 {
		t.Fatalf("unexpected ping result %+v", res)
	}
	evs := readEvents(t, logPath)
	var sawAccept, sawAuth bool
	for _, ev := range evs {
		sawAccept = sawAccept || ev["event"] == "accept"
		if ev["event"] == "message" && ev["type"] == float64(wire.MsgAuth) && ev["crc_ok"] == true && ev["src"] == "client.-1" {
			sawAuth = true
		}
	}
	if !sawAccept || !sawAuth {
		t.Fatalf("serve log lacks the accept or the MAuth: %v", evs)
	}
}

func TestPingNobodyFails(t *testing.T) {
	code, _, errOut := run("ping", "-timeout", "300ms", fmt.Sprintf("v1:127.0.0.1:%d", freePort(t)))
	if code != 1 || !strings.Contains(errOut, "timed out") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q: want 1 and one clear line", code, errOut)
	}
}

// A stream cut inside an element says which element, where it starts, how long it is and how
// much of it arrived; inside the handshake the annotator says the same (its words for these
// three cuts of ceph-s-msgr1.conn0.c2s.bin: "client addr: need 136 bytes at offset 9, only 91
// left", "ceph_msg_connect: need 33 bytes at offset 145, only 15 left"; inside a message it
// counts from the header's end: "message body + footer: need 81 bytes at offset 249, only 51").
func TestDecodeSaysWhereItStopped(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(streams, "ceph-s-msgr1.conn0.c2s.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cut  int
		want stopPoint
	}{
		{100, stopPoint{In: "client addr", Offset: 9, Need: 136, Have: 91}},
		{160, stopPoint{In: "ceph_msg_connect", Offset: 145, Need: 33, Have: 15}},
		{300, stopPoint{In: "MSG", Offset: 195, Need: 1 + 53 + 60 + 21, Have: 105}},
	} {
		file := filepath.Join(t.TempDir(), "cut.bin")
		if err := os.WriteFile(file, data[:c.cut], 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run("decode", "-side", "client", file, "-peer", filepath.Join(streams, "ceph-s-msgr1.conn0.s2c.bin"))
		var sum decodeSummary
		if code != 0 || json.Unmarshal([]byte(lastLine(out)), &sum) != nil {
			t.Fatalf("cut at %d: exit %d, %s", c.cut, code, errOut)
		}
		if sum.Complete || sum.Truncated == nil || *sum.Truncated != c.want {
			t.Errorf("cut at %d: complete %v, truncated %+v; want %+v", c.cut, sum.Complete, sum.Truncated, c.want)
		}
	}
}
