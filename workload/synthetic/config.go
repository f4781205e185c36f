package synthetic

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/msgr/proto"
)

// Config shapes a workload. Start from a Preset; zero fields take the defaults of Ceph's
// SyntheticWorkload.
type Config struct {
	Servers, Clients int          // messengers (Ceph: 8 or 16 servers, 16 or 32 clients)
	ServerPolicy     proto.Policy // every server's default policy
	ClientPolicy     proto.Policy // every client's default policy (clients bind when it has standby)

	InitialConns int // connections generated before the random operations (Ceph: 100 or 10)
	Ops          int // random operations (Ceph: 1000 to 10 000)
	Mix          Mix

	Payloads      int // distinct random payloads (Ceph: 100)
	MinPayload    int // smallest payload data (Ceph: 32 bytes)
	MaxPayload    int // largest payload data (Ceph: max_message_len, 4 MiB)
	MaxInFlight   int // sends and drops wait while more PINGs are pending (Ceph: 64)
	MaxConns      int // no new connection beyond this many (Ceph: 128)
	MinDropConns  int // no drop below this many connections (Ceph: 10)
	CommandChance int // percent of sends that are MCommand at priority 200 (Ceph: 5)

	SleepMin, SleepMax time.Duration // the sleep operation (Ceph: 100–600 µs or 500–1500 µs)
	BlockedWait        time.Duration // how long a driver waits before retrying a blocked op (Ceph: 500 µs)
	DrainTimeout       time.Duration // how long pending PINGs may take to drain (Ceph: 5 min)

	// Fault injection (Ceph's ms_inject_* options of the Synthetic*Inject tests), applied by
	// the environment that creates the messengers.
	SocketFailures        uint64        // ms_inject_socket_failures: 1 in N socket operations fail
	InternalDelays        time.Duration // ms_inject_internal_delays: block a center this long at each delay point (real time only)
	DispatchThrottleBytes int64         // ms_dispatch_throttle_bytes (0: the messenger's default)
	DelayProbability      int           // ms_inject_delay_probability, percent (with delay types "client osd")
	DelayMax              time.Duration // ms_inject_delay_max
	MaxBackoff            time.Duration // ms_max_backoff (test_msgr sets 1 s)
}

// Mix is the operation mix: an operation draws v uniformly in [0, 99] and is a new connection
// when v > Connect, a drop when v > Drop (a no-op when NoDrop), a send when v > Send, else a
// sleep — exactly Ceph's thresholds.
type Mix struct {
	Connect, Drop, Send int
	NoDrop              bool
}

// Presets are Ceph's SyntheticStressTest*/SyntheticInjectTest* configurations by name.
var presets = map[string]Config{
	"stress": {Servers: 8, Clients: 32, ServerPolicy: proto.StatefulServer(0), ClientPolicy: proto.LosslessClient(0),
		InitialConns: 100, Ops: 5000, Mix: Mix{90, 80, 10, false}, SleepMin: 500 * time.Microsecond, SleepMax: 1500 * time.Microsecond},
	"stress1": {Servers: 16, Clients: 32, ServerPolicy: proto.LosslessPeerReuse(0), ClientPolicy: proto.LosslessPeerReuse(0),
		InitialConns: 10, Ops: 10000, Mix: Mix{80, 60, 10, false}, SleepMin: 500 * time.Microsecond, SleepMax: 1500 * time.Microsecond},
	"inject": {Servers: 8, Clients: 32, ServerPolicy: proto.StatefulServer(0), ClientPolicy: proto.LosslessClient(0),
		InitialConns: 100, Ops: 1000, Mix: Mix{90, 80, 10, false}, SocketFailures: 30, DispatchThrottleBytes: 16 << 20,
		InternalDelays: 100 * time.Millisecond},
	"inject2": {Servers: 8, Clients: 16, ServerPolicy: proto.LosslessPeerReuse(0), ClientPolicy: proto.LosslessPeerReuse(0),
		InitialConns: 100, Ops: 1000, Mix: Mix{90, 80, 10, false}, SocketFailures: 30, InternalDelays: 100 * time.Millisecond},
	"inject3": {Servers: 8, Clients: 16, ServerPolicy: proto.StatelessServer(0), ClientPolicy: proto.LossyClient(0),
		InitialConns: 100, Ops: 1000, Mix: Mix{90, 80, 10, false}, SocketFailures: 600, InternalDelays: 100 * time.Millisecond},
	"inject4": {Servers: 16, Clients: 32, ServerPolicy: proto.LosslessPeer(0), ClientPolicy: proto.LosslessPeer(0),
		InitialConns: 100, Ops: 1000, Mix: Mix{95, 80, 10, true}, SocketFailures: 30,
		InternalDelays: 100 * time.Millisecond, DelayProbability: 100, DelayMax: 5 * time.Second},
}

// PresetNames lists the presets, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	//lint:ordered sorted below
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Preset returns Ceph's configuration of the named test (see PresetNames), defaults filled in.
func Preset(name string) (Config, error) {
	c, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("synthetic: unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	c.setDefaults()
	return c, nil
}

// Scaled returns c made smaller for quick runs: at most servers servers and clients
// clients, ops operations, initial connections scaled alike, payloads of at most maxPayload
// bytes. Zero arguments leave that dimension as it is.
func (c Config) Scaled(servers, clients, ops, maxPayload int) Config {
	if servers > 0 && servers < c.Servers {
		c.Servers = servers
	}
	if clients > 0 && clients < c.Clients {
		c.Clients = clients
	}
	if ops > 0 {
		c.Ops = ops
	}
	if pairs := c.Servers * c.Clients; c.InitialConns > pairs {
		c.InitialConns = pairs
	}
	if maxPayload > 0 && maxPayload < c.MaxPayload {
		c.MaxPayload = maxPayload
		c.MinPayload = min(c.MinPayload, maxPayload)
	}
	return c
}

func (c *Config) setDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Servers, 1)
	def(&c.Clients, 1)
	def(&c.Payloads, 100)
	def(&c.MinPayload, 32)
	def(&c.MaxPayload, 4<<20)
	def(&c.MaxInFlight, 64)
	def(&c.MaxConns, 128)
	def(&c.MinDropConns, 10)
	def(&c.CommandChance, 5)
	if c.Mix == (Mix{}) {
		c.Mix = Mix{90, 80, 10, false}
	}
	if c.SleepMax == 0 {
		c.SleepMin, c.SleepMax = 100*time.Microsecond, 600*time.Microsecond
	}
	if c.BlockedWait == 0 {
		c.BlockedWait = 500 * time.Microsecond
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 5 * time.Minute
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Second
	}
}

// Validate reports a configuration the workload cannot run.
func (c Config) Validate() error {
	switch {
	case c.Servers < 1 || c.Clients < 1:
		return fmt.Errorf("synthetic: need at least one server and one client (have %d, %d)", c.Servers, c.Clients)
	case c.Servers+c.Clients > 250:
		return fmt.Errorf("synthetic: %d messengers is too many (at most 250)", c.Servers+c.Clients)
	case c.MinPayload < 0 || c.MaxPayload < c.MinPayload || c.MaxPayload > 64<<20:
		return fmt.Errorf("synthetic: payload sizes [%d, %d] out of range", c.MinPayload, c.MaxPayload)
	case c.Ops < 0 || c.InitialConns < 0 || c.Payloads < 1:
		return fmt.Errorf("synthetic: negative counts or no payloads")
	case c.CommandChance < 0 || c.CommandChance > 100 || c.DelayProbability < 0 || c.DelayProbability > 100:
		return fmt.Errorf("synthetic: percentages out of range")
	case c.SleepMax < c.SleepMin:
		return fmt.Errorf("synthetic: sleep range [%v, %v] is empty", c.SleepMin, c.SleepMax)
	}
	return nil
}

// String describes the configuration in one line.
func (c Config) String() string {
	inj := "no socket failures"
	if c.SocketFailures > 0 {
		inj = fmt.Sprintf("socket failures 1/%d", c.SocketFailures)
	}
	if c.InternalDelays > 0 {
		inj += fmt.Sprintf(", internal delays %v", c.InternalDelays)
	}
	if c.DelayProbability > 0 {
		inj += fmt.Sprintf(", dispatch delays %d%% up to %v", c.DelayProbability, c.DelayMax)
	}
	return fmt.Sprintf("%d servers (%s) %d clients (%s), %d initial connections, %d ops, payloads %d–%d B, %s",
		c.Servers, policyName(c.ServerPolicy), c.Clients, policyName(c.ClientPolicy), c.InitialConns, c.Ops,
		c.MinPayload, c.MaxPayload, inj)
}

// policyName names a policy by the Ceph factory that makes it.
func policyName(p proto.Policy) string {
	for _, f := range []struct {
		name string
		p    proto.Policy
	}{
		{"stateful_server", proto.StatefulServer(0)}, {"stateless_server", proto.StatelessServer(0)},
		{"lossless_peer", proto.LosslessPeer(0)}, {"lossless_peer_reuse", proto.LosslessPeerReuse(0)},
		{"lossy_client", proto.LossyClient(0)}, {"lossless_client", proto.LosslessClient(0)},
	} {
		if f.p.Lossy == p.Lossy && f.p.Server == p.Server && f.p.Standby == p.Standby && f.p.Resetcheck == p.Resetcheck {
			return f.name
		}
	}
	return fmt.Sprintf("policy{lossy=%v server=%v standby=%v resetcheck=%v}", p.Lossy, p.Server, p.Standby, p.Resetcheck)
}
