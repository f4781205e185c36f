package fault

import (
	"fmt"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// Kind is one kind of fault the simulator can inject.
type Kind uint8

// Fault kinds. Stream faults act on the virtual network, process faults on nodes.
const (
	Cuts           Kind = iota // chunk sizes biased to msgr1 frame boundaries ±1 byte
	Latency                    // per-connection latency spread and per-write jitter
	Clog                       // clog a host pair (or one direction) for a while
	Reset                      // reset a connection: both halves, send half or receive half
	Refuse                     // refuse connects though a listener exists
	Hang                       // connects that never complete
	AcceptReset                // connects reset right after they are accepted
	Partition                  // symmetric, asymmetric or isolating partitions, then heal
	Corrupt                    // flip a bit in crc-protected message bytes
	Crash                      // crash a node and restart it (new nonce, or the same)
	Pause                      // pause a node's event centers for a while
	DispatchDelay              // ms_inject_delay_*: hold received messages back
	SocketFailures             // ms_inject_socket_failures: fail 1 in N socket operations
	// Tamper rewrites a message's front in flight and recomputes its crc (an attacker on the
	// path): only a signature can catch it. Never drawn by Swarm or All (it would break every
	// unsigned run, and drawing it would change their schedules): only named, e.g.
	// "swarm,tamper", with cephx (sim.Options.Auth) to stop it.
	Tamper
	NumKinds
)

var kindNames = [NumKinds]string{
	"cuts", "latency", "clog", "reset", "refuse", "hang", "accept-reset", "partition", "corrupt",
	"crash", "pause", "dispatch-delay", "socket-failures", "tamper",
}

// drawnKinds are the kinds Swarm draws and All turns on (every kind before Tamper).
const drawnKinds = Tamper

func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("fault(%d)", k)
}

// ParseKind parses a fault name as printed by String.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// Mix is which faults a run injects and how hard (TigerBeetle's swarm testing: each seed
// picks its own mix).
type Mix struct {
	On             [NumKinds]bool
	Every          time.Duration // mean virtual time between discrete fault injections
	CutBias        detrand.Ratio // probability a chunk ends at a frame boundary ±1
	LatencySpread  time.Duration
	Jitter         time.Duration
	ConnectFaults  detrand.Ratio // probability a connect attempt gets refuse/hang/accept-reset
	SocketFailures uint64        // 1 in N socket operations fail
	DelayMax       time.Duration // dispatch delay injection: maximum hold
	DelayProb      detrand.Ratio // dispatch delay injection: probability per message
}

// None injects nothing (chunking still varies with the seed).
func None() Mix { return Mix{Every: time.Hour} }

// Swarm draws a fault mix from r: each kind is on with probability 1/2, and how hard is drawn
// too.
func Swarm(r *detrand.Rand) Mix {
	f := Mix{}
	for i := range drawnKinds {
		f.On[i] = r.Bool()
	}
	f.fillIntensity(r)
	return f
}

// DrawTamper adds the tamper fault to a swarm mix for a run whose sessions are signed (it
// would only show that crcs do not protect on the others): on with probability ½, drawn after
// every other kind and intensity, so the rest of the mix is the unsigned run's.
func (f *Mix) DrawTamper(r *detrand.Rand) { f.On[Tamper] = r.Bool() }

// All turns every fault kind on, with intensities drawn from r.
func All(r *detrand.Rand) Mix {
	f := Mix{}
	for i := range drawnKinds {
		f.On[i] = true
	}
	f.fillIntensity(r)
	return f
}

func (f *Mix) fillIntensity(r *detrand.Rand) {
	f.Every = time.Duration(r.Range(1, 10)) * time.Millisecond
	f.CutBias = detrand.Percent(uint64(r.Range(10, 90)))
	f.LatencySpread = time.Duration(r.Range(0, 2000)) * time.Microsecond
	f.Jitter = time.Duration(r.Range(0, 500)) * time.Microsecond
	f.ConnectFaults = detrand.Percent(uint64(r.Range(5, 40)))
	f.SocketFailures = uint64(r.Range(20, 400))
	f.DelayMax = time.Duration(r.Range(1, 50)) * time.Millisecond
	f.DelayProb = detrand.Percent(uint64(r.Range(5, 60)))
}

// Parse reads a -faults flag: "none", "swarm" (drawn from r), "all", or a comma separated
// list of fault names (intensities drawn from r); a list that starts with "swarm" or "all"
// adds the named kinds to that mix (e.g. "swarm,tamper").
func Parse(spec string, r *detrand.Rand) (Mix, error) {
	switch spec {
	case "", "none":
		return None(), nil
	case "swarm":
		return Swarm(r), nil
	case "all":
		return All(r), nil
	}
	names := strings.Split(spec, ",")
	f := Mix{}
	switch strings.TrimSpace(names[0]) {
	case "swarm":
		f, names = Swarm(r), names[1:]
	case "all":
		f, names = All(r), names[1:]
	default:
		f.fillIntensity(r)
	}
	for _, name := range names {
		k, ok := ParseKind(strings.TrimSpace(name))
		if !ok {
			return Mix{}, fmt.Errorf("unknown fault %q (known: none, swarm, all, %s)", name, strings.Join(kindNames[:], ", "))
		}
		f.On[k] = true
	}
	return f, nil
}

// Names lists the faults that are on.
func (f Mix) Names() []string {
	var names []string
	for i, on := range f.On {
		if on {
			names = append(names, Kind(i).String())
		}
	}
	return names
}

// String renders the mix, e.g. "reset,corrupt every 7ms cuts 40/100 …".
func (f Mix) String() string {
	names := f.Names()
	if len(names) == 0 {
		return "none"
	}
	var b strings.Builder
	b.WriteString(strings.Join(names, ","))
	fmt.Fprintf(&b, " (every %v", f.Every)
	if f.On[Cuts] {
		fmt.Fprintf(&b, ", cut bias %v", f.CutBias)
	}
	if f.On[Latency] {
		fmt.Fprintf(&b, ", latency spread %v jitter %v", f.LatencySpread, f.Jitter)
	}
	if f.On[Refuse] || f.On[Hang] || f.On[AcceptReset] {
		fmt.Fprintf(&b, ", connect faults %v", f.ConnectFaults)
	}
	if f.On[SocketFailures] {
		fmt.Fprintf(&b, ", socket failures 1/%d", f.SocketFailures)
	}
	if f.On[DispatchDelay] {
		fmt.Fprintf(&b, ", dispatch delay %v up to %v", f.DelayProb, f.DelayMax)
	}
	b.WriteString(")")
	return b.String()
}

// discreteFaults are the faults injected as events (the others shape the network
// continuously), in the order scheduleFaults draws them.
var discreteFaults = []Kind{Clog, Reset, Partition, Corrupt, Crash, Pause}

// Tamper is discrete too, but scheduled on its own (Injector.Schedule), so that the draws of
// the mixes without it stay as they were.

// discrete lists the discrete faults that are on.
func (f Mix) discrete() []Kind {
	var ks []Kind
	for _, k := range append(discreteFaults, Tamper) {
		if f.On[k] {
			ks = append(ks, k)
		}
	}
	return ks
}
