package canary

import (
	"fmt"
	"os"
	"strings"
)

// Kind names one deliberate bug (None: the real code).
type Kind uint8

// The canaries. Each is described, with the invariants that must catch it, in All.
const (
	None          Kind = iota
	NoRequeue          // msgr/proto: unacknowledged messages dropped at a fault
	NoDiscard          // msgr/proto: requeued messages the peer has are not discarded
	LossyAck           // msgr/proto: lossy sessions send ACKs
	OverAck            // msgr/proto: ACK frames acknowledge one message too many
	NoForget           // msgr: closed connections stay registered
	DupRegister        // msgr: connect_to registers a second connection for an address
	ThrottleLeak       // msgr: fast dispatch keeps its throttle units
	DoubleRelease      // msgr: dispatched messages return their throttle units twice
	NoDedupe           // the simulator's cluster workload: OSDs apply retried updates twice
	ConnectSeq         // msgr/proto: a fault while connecting increments connect_seq (PR #25343)
	NoSigCheck         // msgr/proto: a signed session's received messages are not checked
	NoDropReport       // msgr/proto: discarded messages are not reported to the host
	IdleEarly          // msgr/proto: the idle timeout counts from the session's open, not its last activity
	numKinds
)

// EnvVar is the environment variable a program built with -tags canary reads its canary from.
const EnvVar = "MSGRSIM_CANARY"

// Canary is one deliberate bug: what breaks, and the invariants that must catch it where it
// is checked. An empty field means the canary is not checked there.
type Canary struct {
	Kind Kind
	Name string // for MSGRSIM_CANARY and msgr-sim -canary
	Bug  string // what is broken, in one line

	// Sim is the invariant the simulator must catch it by in swarm seeds of the default and
	// the synthetic workloads, and the one its shrunk tape keeps.
	Sim string
	// Cephx is the invariant the simulator must catch it by in the cluster workload with cephx
	// and the tamper fault (sim.Options.Auth, "swarm,tamper" seeds).
	Cephx string
	// Model is the porcupine model's invariant that must catch it too: fifo-linearizability
	// (default workload) or kv-linearizability (cluster workload).
	Model string
	// Real are the invariants over real TCP (workload/synthetic's soak over epoll), any one of
	// which must catch it.
	Real []string
	// API is the invariant the Messenger API state-machine test (msgr TestMessengerAPI) must
	// fail with.
	API string
	// Shrunk is the most decisions the shrunk tape of its first failing seed may keep (0: 40,
	// a few dozen).
	Shrunk int
}

// All is the table of canaries, in Kind order (All[k-1].Kind == k). The tests that hold each
// canary to it, all run by go test -tags canary -run TestCanar (and skipped without the tag):
// sim TestCanaries (Sim, Model, and the regression tape testdata/regressions/canary_NAME.tape
// when there is one), workload/synthetic TestCanaries (Real), msgr TestCanaries (API), and
// cmd/msgr-sim TestCanaryLoop (the command-line loop, on norequeue). sim's TestCanaries/none
// checks that with no canary selected the canary build is the real code.
var All = []Canary{
	{Kind: NoRequeue, Name: "norequeue", Sim: "lossless-loss", Model: "fifo-linearizability",
		Real: []string{"lossless-loss", "liveness-timeout"}, API: "lossless-loss",
		Bug: "unacknowledged messages are dropped at a fault instead of requeued"},
	{Kind: NoDiscard, Name: "nodiscard", Sim: "duplicate-delivery", Model: "fifo-linearizability",
		Real: []string{"duplicate-delivery"}, API: "duplicate-delivery",
		Bug: "requeued messages the peer already has are not discarded after the SEQ exchange, and get new numbers"},
	{Kind: LossyAck, Name: "lossyack", Sim: "lossy-ack",
		Bug: "lossy sessions send ACKs (Ceph PR #13700)"},
	{Kind: OverAck, Name: "overack", Sim: "ack-unreceived",
		Real: []string{"ack-unreceived"}, API: "ack-unreceived",
		Bug: "every ACK frame acknowledges one message more than was received"},
	{Kind: NoForget, Name: "noforget", Sim: "registry-closed", API: "registry-closed",
		Bug: "a closed connection stays in the session registry (PR #25755's bug class)"},
	{Kind: DupRegister, Name: "dupregister", Sim: "registry-duplicate", API: "registry-duplicate",
		Bug: "connect_to ignores the registry and registers a second connection for an address (PRs #19013, #15645)"},
	{Kind: ThrottleLeak, Name: "throttleleak", Sim: "throttle-leak",
		Real: []string{"throttle-leak"}, API: "throttle-leak",
		Bug: "fast-dispatched messages keep their dispatch-throttle reservation (PR #8963's leak class)"},
	{Kind: DoubleRelease, Name: "doublerelease", Sim: "throttle-negative",
		Bug: "a dispatched message returns its throttle units twice (quirk Q3's double release)"},
	{Kind: NoDedupe, Name: "nodedupe", Model: "kv-linearizability",
		Bug: "the cluster workload's OSDs apply a retried update again instead of finding it by client and tid"},
	// The connect_seq bug needs a session's connect to be sent, lost with its socket, and
	// reconnected with both sides still up: the shrinker keeps a few hundred decisions.
	{Kind: ConnectSeq, Name: "connectseq", Sim: "connect-seq", Shrunk: 400,
		Bug: "a fault after the connect message was sent increments connect_seq (Ceph PR #25343, tracker 36612: the acceptor, with no session, answers RESETSESSION and queued messages are dropped)"},
	{Kind: NoSigCheck, Name: "nosigcheck", Cephx: "tampered-dispatch",
		Bug: "a signed session's received messages are dispatched without checking their signature (crcs alone then let a tampered message through)"},
	{Kind: NoDropReport, Name: "nodropreport", Sim: "message-fate", Real: []string{"message-fate"},
		Bug: "a session reset, lossy fault or stop discards its queued and unacknowledged messages without reporting them to the host (proto.Dropper): the messenger never recycles them, and nothing says they are gone"},
	{Kind: IdleEarly, Name: "idleearly", Sim: "idle-timeout",
		Bug: "the idle timeout (ms_connection_idle_timeout) counts from the session's open, not from its last read or write: busy sessions fault and reconnect, losing nothing a delivery check sees"},
}

// Of returns k's entry in All (the zero Canary for None).
func Of(k Kind) Canary {
	if k == None || k >= numKinds {
		return Canary{}
	}
	return All[k-1]
}

// String is the canary's name ("none" for None).
func (k Kind) String() string {
	if k == None {
		return "none"
	}
	if k >= numKinds {
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
	return All[k-1].Name
}

// Parse returns the canary called name; "" and "none" are None.
func Parse(name string) (Kind, error) {
	if name == "" || name == "none" {
		return None, nil
	}
	for _, c := range All {
		if c.Name == name {
			return c.Kind, nil
		}
	}
	return None, fmt.Errorf("unknown canary %q (known: %s)", name, Names())
}

// Names lists the canaries' names, comma-separated.
func Names() string {
	names := make([]string, len(All))
	for i, c := range All {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// fromEnv is the canary MSGRSIM_CANARY selects. A program that cannot honour it (built
// without the tag, or an unknown name) stops: a run that ignored it would look like a canary
// nobody catches.
func fromEnv() Kind {
	name := os.Getenv(EnvVar)
	if name == "" {
		return None
	}
	k, err := Parse(name)
	if err == nil && !Enabled && k != None {
		err = fmt.Errorf("this program was built without -tags canary")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%s: %v\n", EnvVar, name, err)
		os.Exit(2)
	}
	return k
}
