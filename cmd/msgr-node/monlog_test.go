package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"time"
)

// What a real ceph-mon logs at debug_ms 1 and above that the verifier reads (Pacific 16.2):
//
//	… 1 -- v1:A <== mon.1 v1:B 17 ==== mon_probe(probe … name b …) v8 ==== 63+0+0 (unknown 578401983 0 0) 0x… con 0x…
//	… 1 -- v1:A <== mon.1 v1:B 18 ==== mon_ping(ping stamp 2026-12-06T05:59:53.040006+0000) v1 ==== 51+0+0 (unknown … 0 0) 0x… con 0x…
//	… 1 -- v1:A --> v1:B -- mon_ping(ping_reply stamp 2026-12-06T05:59:53.040006+0000) v1 -- 0x… con 0x…
//	… 5 --1- v1:A >> v1:B conn(…).handle_connect_reply_2 connect got RETRY_GLOBAL 5 chose new 9
//	… 0 --1- … handle_message_footer got old message 5 <= 7 0x… …, discarding
//	… 0 ceph version 16.2.15 (…) pacific (stable), process ceph-mon, pid 23237
//
// A dispatched message carries its seq and front crc ("unknown CRC 0 0": front, middle and
// data crcs); a queued one only its text, which names an MMonPing's stamp.

// monLogEvent is one line of the mon's log that matters to the verifier.
type monLogEvent struct {
	At      time.Time
	Kind    string // "dispatch", "queue", "start", "connect_got", "mon_reset", "old", "skipped", "crash"
	Seq     uint64 // dispatch
	Text    string // dispatch, queue: the message as Ceph prints it
	CRC     uint32 // dispatch: front crc
	Stamp   string // dispatch, queue: an MMonPing's stamp
	Tag     string // connect_got
	Conn    string // dispatch, queue: Ceph's connection pointer
	FrontN  int    // dispatch
	Message string // kind of message: probe, probe_reply, ping, ping_reply, other
}

var (
	reMonTime     = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}) `)
	reMonDispatch = regexp.MustCompile(` <== (\S+) (\S+) (\d+) ==== (.*) ==== (\d+)\+\d+\+\d+ \(\S+ (\d+) \d+ \d+\) 0x[0-9a-f]+ con (0x[0-9a-f]+)$`)
	reMonQueue    = regexp.MustCompile(` --> (\S+) -- (.*) -- 0x[0-9a-f]+ con (0x[0-9a-f]+)$`)
	reMonStamp    = regexp.MustCompile(`^mon_ping\((?:ping|ping_reply) stamp (\S+)\)`)
	reMonGot      = regexp.MustCompile(`handle_connect_reply_2 connect got ([A-Z_]+)`)
	reMonGotSeq   = regexp.MustCompile(`handle_connect_reply_2 got CEPH_MSGR_TAG_SEQ`)
	reMonOld      = regexp.MustCompile(`got old message \d+ <= \d+`)
	reMonSkipped  = regexp.MustCompile(`missed message\?\s+skipped from seq`)
	reMonStart    = regexp.MustCompile(` ceph version .*process ceph-mon, pid \d+`)
	reMonCrash    = regexp.MustCompile(`\*\*\* Caught signal|ceph_abort|FAILED ceph_assert`)
	// the mon resets its session as an acceptor: the peer restarted (rule 8e)
	reMonReset = regexp.MustCompile(`accept peer reset, then tried to connect to us`)
)

// readMonLog reads the mon's log, keeping what concerns the peer at peerAddr (e.g.
// "v1:127.0.0.1:17102/0").
func readMonLog(path, peerAddr string) ([]monLogEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMonLog(f, peerAddr)
}

func parseMonLog(r io.Reader, peerAddr string) ([]monLogEvent, error) {
	var evs []monLogEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if ev, ok := parseMonLine(sc.Text(), peerAddr); ok {
			evs = append(evs, ev)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mon log: %w", err)
	}
	return evs, nil
}

func parseMonLine(line, peerAddr string) (monLogEvent, bool) {
	tm := reMonTime.FindStringSubmatch(line)
	if tm == nil {
		return monLogEvent{}, false
	}
	at, err := time.Parse("2006-01-02T15:04:05.000-0700", tm[1])
	if err != nil {
		return monLogEvent{}, false
	}
	ev := monLogEvent{At: at}
	switch {
	case reMonDispatch.MatchString(line):
		m := reMonDispatch.FindStringSubmatch(line)
		if m[2] != peerAddr {
			return ev, false
		}
		ev.Kind, ev.Text, ev.Conn = "dispatch", m[4], m[7]
		ev.Seq, _ = strconv.ParseUint(m[3], 10, 64)
		ev.FrontN, _ = strconv.Atoi(m[5])
		crc, _ := strconv.ParseUint(m[6], 10, 32)
		ev.CRC = uint32(crc)
	case reMonQueue.MatchString(line):
		m := reMonQueue.FindStringSubmatch(line)
		if m[1] != peerAddr {
			return ev, false
		}
		ev.Kind, ev.Text, ev.Conn = "queue", m[2], m[3]
	case reMonReset.MatchString(line):
		ev.Kind = "mon_reset"
	case reMonGot.MatchString(line):
		ev.Kind, ev.Tag = "connect_got", reMonGot.FindStringSubmatch(line)[1]
	case reMonGotSeq.MatchString(line):
		ev.Kind, ev.Tag = "connect_got", "SEQ"
	case reMonOld.MatchString(line):
		ev.Kind = "old"
	case reMonSkipped.MatchString(line):
		ev.Kind = "skipped"
	case reMonStart.MatchString(line):
		ev.Kind = "start"
	case reMonCrash.MatchString(line):
		ev.Kind, ev.Text = "crash", line
	default:
		return ev, false
	}
	if s := reMonStamp.FindStringSubmatch(ev.Text); s != nil {
		ev.Stamp = s[1]
	}
	ev.Message = monMessageKind(ev.Text)
	return ev, true
}

// monMessageKind names a message as Ceph prints it: probe, probe_reply, ping, ping_reply.
func monMessageKind(text string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"mon_probe(probe ", "probe"}, {"mon_probe(reply ", "probe_reply"},
		{"mon_ping(ping ", "ping"}, {"mon_ping(ping_reply ", "ping_reply"},
	} {
		if len(text) >= len(k.prefix) && text[:len(k.prefix)] == k.prefix {
			return k.kind
		}
	}
	if text == "" {
		return ""
	}
	return "other"
}
