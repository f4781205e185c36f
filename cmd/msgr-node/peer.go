package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// peerOptions is what peer's flags say.
type peerOptions struct {
	name     wire.AuthEntityName // mon.b
	rank     int64               // 1: the entity_name_t number in our headers
	addr     netip.AddrPort      // where we listen (the monmap's address for us)
	peers    []monPeer           // the real monitors
	fsid     [16]byte
	rate     float64       // messages per second to each peer
	size     int           // data section bytes per message
	pingMix  int           // one message in pingMix is an MMonPing, the rest MMonProbes (0: probes only)
	duration time.Duration // 0: until stopped
	drain    time.Duration // how long to wait for the peers to acknowledge everything at the end
	firstID  uint64        // 0: continue after the last id in the log
	backoff  time.Duration // ms_max_backoff (0: 15 s)
	inject   injectFlags
	logPath  string
}

// monPeer is one -peer NAME=ADDR.
type monPeer struct {
	name string
	addr wire.EntityAddr
}

const peerSynopsis = "msgr-node peer -name mon.b -rank 1 -addr IP:PORT -peer mon.a=v1:IP:PORT -fsid UUID [-rate N] [-size B] [-duration D] [-log FILE] [-inject-socket-failures N]"

// peerCmd runs a Go monitor peer until -duration passes (then it drains and exits) or until
// SIGINT/SIGTERM or stop (then it stops at once, as a crash would, without draining).
func peerCmd(args []string, stdout, stderr io.Writer, stop <-chan struct{}) int {
	o, code, ok := parsePeerFlags(args, stdout, stderr)
	if !ok {
		return code
	}
	out := stdout
	if o.logPath != "" {
		first, err := nextIDFromLog(o.logPath)
		if err != nil {
			fmt.Fprintf(stderr, "msgr-node peer: %v\n", err)
			return 1
		}
		if o.firstID == 0 {
			o.firstID = first
		}
		f, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "msgr-node peer: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	o.firstID = max(o.firstID, 1)
	return runPeer(o, &eventLog{enc: json.NewEncoder(out)}, stderr, stop)
}

func parsePeerFlags(args []string, stdout, stderr io.Writer) (peerOptions, int, bool) {
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	name := fs.String("name", "mon.b", "our name as Ceph's auth knows it (type.id)")
	rank := fs.Int64("rank", 1, "our rank: the number in our message headers (mon.1)")
	addr := fs.String("addr", "", "address to listen on, IP:PORT: the monmap's address for us (required)")
	var peers peerList
	fs.Var(&peers, "peer", "a real monitor, NAME=v1:IP:PORT (repeatable; at least one)")
	fsid := fs.String("fsid", "", "the cluster's fsid, from its monmap (required)")
	var o peerOptions
	fs.Float64Var(&o.rate, "rate", 100, "messages per second to each peer")
	fs.IntVar(&o.size, "size", 0, "bytes in each message's data section")
	fs.IntVar(&o.pingMix, "ping-mix", 2, "one message in N is an MMonPing (echoed by the peer), the others MMonProbes (0: probes only)")
	fs.DurationVar(&o.duration, "duration", 0, "send for this long, then stop injecting, drain and exit (0: until SIGINT)")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "at the end, wait this long at most for the peers to acknowledge everything")
	fs.Uint64Var(&o.firstID, "first-id", 0, "id of the first message (0: one after the last id in -log)")
	fs.DurationVar(&o.backoff, "max-backoff", 0, "ms_max_backoff (0: 15s)")
	fs.StringVar(&o.logPath, "log", "", "append the JSON event log to FILE (default: stdout)")
	fs.Uint64Var(&o.inject.socketFailures, "inject-socket-failures", 0, "ms_inject_socket_failures: fail one socket read or write in N (0: off)")
	fs.Uint64Var(&o.inject.seed, "inject-seed", 1, "seed of the injection decisions")
	if ok, code := parseFlags(fs, args, peerSynopsis, stdout, stderr); !ok {
		return o, code, false
	}
	var err error
	switch {
	case fs.NArg() != 0:
		err = fmt.Errorf("unexpected arguments %q", fs.Args())
	case len(peers) == 0:
		err = errors.New("-peer NAME=v1:IP:PORT is required")
	}
	if err == nil {
		o.addr, err = netip.ParseAddrPort(*addr)
	}
	if err == nil {
		o.name, err = parseAuthName(*name)
	}
	if err == nil && wire.EntityType(o.name.Type) != wire.EntityMon {
		err = fmt.Errorf("-name %s: a monitor peer is named mon.ID", *name)
	}
	if err == nil {
		o.fsid, err = parseUUID(*fsid)
	}
	if err == nil && (o.rate <= 0 || o.size < 0 || o.pingMix < 0) {
		err = errors.New("-rate must be positive, -size and -ping-mix not negative")
	}
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node peer: %v\n", err)
		return o, 2, false
	}
	o.rank, o.peers = *rank, peers
	return o, 0, true
}

// peerList collects -peer NAME=ADDR flags.
type peerList []monPeer

func (l *peerList) String() string { return fmt.Sprint(*l) }

func (l *peerList) Set(s string) error {
	name, a, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("want NAME=v1:IP:PORT, got %q", s)
	}
	addr, err := wire.ParseEntityAddr(a)
	if err != nil || addr.Type != wire.AddrLegacy {
		return fmt.Errorf("bad address %q: want v1:IP:PORT", a)
	}
	*l = append(*l, monPeer{name: name, addr: addr})
	return nil
}

// parseUUID parses "43073090-abd5-4d5b-a8fd-1fe645e6ca8c" into its 16 bytes (Ceph's uuid_d,
// sent as the raw bytes).
func parseUUID(s string) ([16]byte, error) {
	var u [16]byte
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != len(u) || len(s) != 36 || strings.Count(s, "-") != 4 {
		return u, fmt.Errorf("bad -fsid %q: want a UUID", s)
	}
	copy(u[:], b)
	return u, nil
}

// nextIDFromLog returns one more than the largest message id a peer log holds (1 for a log
// that does not exist yet), so that a restarted peer appending to its log never reuses an id.
func nextIDFromLog(path string) (uint64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var last uint64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev struct {
			Event string `json:"event"`
			ID    uint64 `json:"id"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Event == "send" {
			last = max(last, ev.ID)
		}
	}
	return last + 1, sc.Err()
}
