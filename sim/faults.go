package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// Fault is one kind of fault the simulator can inject.
type Fault uint8

// Fault kinds. Stream faults act on the virtual network, process faults on nodes.
const (
	FaultCuts           Fault = iota // chunk sizes biased to msgr1 frame boundaries ±1 byte
	FaultLatency                     // per-connection latency spread and per-write jitter
	FaultClog                        // clog a host pair (or one direction) for a while
	FaultReset                       // reset a connection: both halves, send half or receive half
	FaultRefuse                      // refuse connects though a listener exists
	FaultHang                        // connects that never complete
	FaultAcceptReset                 // connects reset right after they are accepted
	FaultPartition                   // symmetric, asymmetric or isolating partitions, then heal
	FaultCorrupt                     // flip a bit in crc-protected message bytes
	FaultCrash                       // crash a node and restart it (new nonce, or the same)
	FaultPause                       // pause a node's event centers for a while
	FaultDispatchDelay               // ms_inject_delay_*: hold received messages back
	FaultSocketFailures              // ms_inject_socket_failures: fail 1 in N socket operations
	NumFaults
)

var faultNames = [NumFaults]string{
	"cuts", "latency", "clog", "reset", "refuse", "hang", "accept-reset", "partition", "corrupt",
	"crash", "pause", "dispatch-delay", "socket-failures",
}

func (f Fault) String() string {
	if f < NumFaults {
		return faultNames[f]
	}
	return fmt.Sprintf("fault(%d)", f)
}

// ParseFault parses a fault name as printed by String.
func ParseFault(s string) (Fault, bool) {
	for i, n := range faultNames {
		if n == s {
			return Fault(i), true
		}
	}
	return 0, false
}

// Faults is which faults a run injects and how hard (TigerBeetle's swarm testing: each seed
// picks its own mix).
type Faults struct {
	On             [NumFaults]bool
	Every          time.Duration // mean virtual time between discrete fault injections
	CutBias        detrand.Ratio // probability a chunk ends at a frame boundary ±1
	LatencySpread  time.Duration
	Jitter         time.Duration
	ConnectFaults  detrand.Ratio // probability a connect attempt gets refuse/hang/accept-reset
	SocketFailures uint64        // 1 in N socket operations fail
	DelayMax       time.Duration // dispatch delay injection: maximum hold
	DelayProb      detrand.Ratio // dispatch delay injection: probability per message
}

// NoFaults injects nothing (chunking still varies with the seed).
func NoFaults() Faults { return Faults{Every: time.Hour} }

// SwarmFaults draws a fault mix from r: each kind is on with probability 1/2, and how hard
// is drawn too.
func SwarmFaults(r *detrand.Rand) Faults {
	f := Faults{}
	for i := range f.On {
		f.On[i] = r.Bool()
	}
	f.fillIntensity(r)
	return f
}

// AllFaults turns every fault kind on, with intensities drawn from r.
func AllFaults(r *detrand.Rand) Faults {
	f := Faults{}
	for i := range f.On {
		f.On[i] = true
	}
	f.fillIntensity(r)
	return f
}

func (f *Faults) fillIntensity(r *detrand.Rand) {
	f.Every = time.Duration(r.Range(1, 10)) * time.Millisecond
	f.CutBias = detrand.Percent(uint64(r.Range(10, 90)))
	f.LatencySpread = time.Duration(r.Range(0, 2000)) * time.Microsecond
	f.Jitter = time.Duration(r.Range(0, 500)) * time.Microsecond
	f.ConnectFaults = detrand.Percent(uint64(r.Range(5, 40)))
	f.SocketFailures = uint64(r.Range(20, 400))
	f.DelayMax = time.Duration(r.Range(1, 50)) * time.Millisecond
	f.DelayProb = detrand.Percent(uint64(r.Range(5, 60)))
}

// ParseFaults reads a -faults flag: "none", "swarm" (drawn from r), "all", or a comma
// separated list of fault names (intensities drawn from r).
func ParseFaults(spec string, r *detrand.Rand) (Faults, error) {
	switch spec {
	case "", "none":
		return NoFaults(), nil
	case "swarm":
		return SwarmFaults(r), nil
	case "all":
		return AllFaults(r), nil
	}
	f := Faults{}
	f.fillIntensity(r)
	for _, name := range strings.Split(spec, ",") {
		k, ok := ParseFault(strings.TrimSpace(name))
		if !ok {
			return Faults{}, fmt.Errorf("unknown fault %q (known: none, swarm, all, %s)", name, strings.Join(faultNames[:], ", "))
		}
		f.On[k] = true
	}
	return f, nil
}

// Names lists the faults that are on.
func (f Faults) Names() []string {
	var names []string
	for i, on := range f.On {
		if on {
			names = append(names, Fault(i).String())
		}
	}
	return names
}

// String renders the mix, e.g. "reset,corrupt every 7ms cuts 40/100 …".
func (f Faults) String() string {
	names := f.Names()
	if len(names) == 0 {
		return "none"
	}
	var b strings.Builder
	b.WriteString(strings.Join(names, ","))
	fmt.Fprintf(&b, " (every %v", f.Every)
	if f.On[FaultCuts] {
		fmt.Fprintf(&b, ", cut bias %v", f.CutBias)
	}
	if f.On[FaultLatency] {
		fmt.Fprintf(&b, ", latency spread %v jitter %v", f.LatencySpread, f.Jitter)
	}
	if f.On[FaultRefuse] || f.On[FaultHang] || f.On[FaultAcceptReset] {
		fmt.Fprintf(&b, ", connect faults %v", f.ConnectFaults)
	}
	if f.On[FaultSocketFailures] {
		fmt.Fprintf(&b, ", socket failures 1/%d", f.SocketFailures)
	}
	if f.On[FaultDispatchDelay] {
		fmt.Fprintf(&b, ", dispatch delay %v up to %v", f.DelayProb, f.DelayMax)
	}
	b.WriteString(")")
	return b.String()
}

// discreteFaults are the faults injected as events (the others shape the network
// continuously), in the order scheduleFaults draws them.
var discreteFaults = []Fault{FaultClog, FaultReset, FaultPartition, FaultCorrupt, FaultCrash, FaultPause}

// discrete lists the discrete faults that are on.
func (f Faults) discrete() []Fault {
	var ks []Fault
	for _, k := range discreteFaults {
		if f.On[k] {
			ks = append(ks, k)
		}
	}
	return ks
}
