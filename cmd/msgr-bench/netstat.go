//go:build linux

package main

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
)

// tcpCounters are TCP counters of the network namespace (/proc/net/snmp and
// /proc/net/netstat, what nstat reads): every process's loopback traffic counts, so a window's
// differences are this run's only on an otherwise quiet machine. On this VM (under load)
// loopback segments arrived out of order now and then (TCPOFOQueue), followed by spurious
// retransmissions (RetransSegs, answered by D-SACKs) and a lowered ssthresh (ss -ti of the
// stdlib contender's rr connection: reordering 31, 17 retransmissions, all D-SACKed,
// ssthresh 8 segments); the counters tell whether a slow repetition had them.
type tcpCounters struct {
	OutSegs     uint64 `json:"out_segs"`
	RetransSegs uint64 `json:"retrans_segs"`
	LossProbes  uint64 `json:"loss_probes"`
	OFOQueue    uint64 `json:"ofo_queue"`
	DSACKRecv   uint64 `json:"dsack_recv"`
}

// readTCPCounters reads the namespace's counters (zero where unreadable).
func readTCPCounters() tcpCounters {
	var c tcpCounters
	for _, path := range []string{"/proc/net/snmp", "/proc/net/netstat"} {
		if f, err := os.Open(path); err == nil {
			c.parse(f)
			_ = f.Close()
		}
	}
	return c
}

// parse takes the counters it knows from a /proc/net/snmp or /proc/net/netstat text: pairs of
// lines "Prefix: name name …" and "Prefix: value value …".
func (c *tcpCounters) parse(r io.Reader) {
	want := map[string]*uint64{
		"Tcp:OutSegs": &c.OutSegs, "Tcp:RetransSegs": &c.RetransSegs, "TcpExt:TCPLossProbes": &c.LossProbes,
		"TcpExt:TCPOFOQueue": &c.OFOQueue, "TcpExt:TCPDSACKRecv": &c.DSACKRecv,
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var names []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		if names == nil || names[0] != f[0] {
			names = f
			continue
		}
		for i := 1; i < len(f) && i < len(names); i++ {
			if p := want[strings.TrimSuffix(f[0], ":")+":"+names[i]]; p != nil {
				if v, err := strconv.ParseUint(f[i], 10, 64); err == nil {
					*p = v
				}
			}
		}
		names = nil
	}
}

// sub is c - o, field by field (counters only grow; a wrap gives 0).
func (c tcpCounters) sub(o tcpCounters) tcpCounters {
	d := func(a, b uint64) uint64 {
		if a < b {
			return 0
		}
		return a - b
	}
	return tcpCounters{d(c.OutSegs, o.OutSegs), d(c.RetransSegs, o.RetransSegs), d(c.LossProbes, o.LossProbes),
		d(c.OFOQueue, o.OFOQueue), d(c.DSACKRecv, o.DSACKRecv)}
}
