// Command msgr-node is a real msgr1 node on the epoll stack, for talking to real Ceph.
//
// Usage:
//
//	msgr-node ping [-json] [-timeout D] [-name client.admin] [-auth cephx -keyring FILE] v1:IP:PORT
//	msgr-node serve -addr IP:PORT [-name mon.0] [-auth cephx -keyring FILE] [-log FILE] [-metrics ADDR] [limits] [injection]
//	msgr-node peer -name mon.b -rank 1 -addr IP:PORT -peer mon.a=v1:IP:PORT -fsid UUID [-rate N] [-duration D] [-log FILE] [injection]
//	msgr-node decode -side client|server FILE [-peer OTHERFILE]
//
// ping connects as a client (lossy_client toward a monitor), completes the handshake, does a
// KEEPALIVE2 round trip, sends MAuth (auth none) and waits for MAuthReply; with -auth cephx it
// authenticates with the keyring's key instead (the whole cephx exchange, service tickets) and
// prints the fsid of the monmap the monitor sends next (docs/cephx.md). serve accepts msgr1
// connections as a monitor-like server: it answers KEEPALIVE2, MAuth (with a fresh global id)
// and MPing, and logs every event as a JSON line; with -auth cephx it is the monitor's cephx
// auth service for the keyring's entities (global ids, proofs, tickets: the real ceph CLI
// authenticates against it), verifies cephx authorizers of peers with tickets for it, and logs
// "signature_ok" for every message of a signed session. peer is a monitor (mon.b) in a real
// monitor's monmap: it holds a lossless_peer_reuse session with the real ceph-mon, sends it
// MMonProbe and MMonPing at a steady rate, and logs every send, dispatch, reset, fault and
// connect reply tag (docs/interop.md). decode dissects a captured conversation and says where
// a truncated stream stopped.
//
// serve -metrics ADDR serves the messenger's counters over HTTP: /metrics in the Prometheus
// text format (with the process's peak RSS), /debug/vars as expvar JSON, /metrics.json. Its
// limits (-max-conns, -handshake-timeout, -max-message-bytes, -max-authorizer-bytes) and
// Ceph's fault injection options (-inject-socket-failures, -inject-internal-delays,
// -inject-delay-type/-max/-probability) are flags; injection is off by default.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `msgr-node: a real msgr1 (Ceph messenger v1) node

Usage:
  msgr-node ping [-json] [-timeout D] [-name client.admin] [-auth cephx -keyring FILE] v1:IP:PORT
  msgr-node serve -addr IP:PORT [-name mon.0] [-auth cephx -keyring FILE] [-log FILE] [-metrics ADDR] [limits] [injection]
  msgr-node peer -name mon.b -rank 1 -addr IP:PORT -peer mon.a=v1:IP:PORT -fsid UUID [-rate N] [-duration D] [-log FILE] [injection]
  msgr-node decode -side client|server FILE [-peer OTHERFILE]
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "ping":
		return pingCmd(args[1:], stdout, stderr)
	case "serve":
		return serveCmd(args[1:], stdout, stderr, nil)
	case "decode":
		return decodeCmd(args[1:], stdout, stderr)
	case "peer":
		return peerCmd(args[1:], stdout, stderr, nil)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "msgr-node: unknown command %q\n%s", args[0], usage)
	return 2
}
