package sim

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A plain run's coverage shows what it must have done: both handshakes, open sessions,
// messages and ACKs both ways, and the dispatch invariants evaluated once per dispatch. Plain:
// Ceph's default configuration (no swarm), so every reconnect uses the SEQ exchange.
func TestCoverageOfAPlainRun(t *testing.T) {
	opts := DefaultOptions(3)
	opts.NoSwarm = true
	r := Run(opts)
	if !r.Pass {
		t.Fatal(r)
	}
	c := r.Coverage
	for _, st := range []proto.State{proto.StateStartConnect, proto.StateConnecting, proto.StateAccepting,
		proto.StateOpened, proto.StateReadFooterAndDispatch, proto.StateClosed} {
		if c.States[st.String()] == 0 {
			t.Errorf("state %v not counted", st)
		}
	}
	if c.Transitions["START_CONNECT -> CONNECTING"] == 0 || c.Transitions["ACCEPTING_HANDLED_CONNECT_MSG -> OPENED"] == 0 {
		t.Errorf("transitions: %v", c.Transitions)
	}
	for _, tag := range []wire.Tag{wire.TagSeq} {
		if c.ReplySent[tag.String()] == 0 || c.ReplyRecv[tag.String()] == 0 {
			t.Errorf("reply tag %v: sent %d received %d", tag, c.ReplySent[tag.String()], c.ReplyRecv[tag.String()])
		}
	}
	if c.FrameSent["MSG"] < r.Delivered || c.FrameRecv["MSG"] < r.Delivered || c.FrameRecv["ACK"] == 0 {
		t.Errorf("frames sent %v received %v for %d dispatched", c.FrameSent, c.FrameRecv, r.Delivered)
	}
	if c.Invariants[InvDuplicate] != r.Delivered || c.Invariants[InvUnknownMessage] != r.Delivered {
		t.Errorf("invariants evaluated %v for %d dispatched", c.Invariants, r.Delivered)
	}
	if c.Invariants[InvFIFO] != 1 || c.Invariants[InvLiveness] != 1 || c.Invariants[InvShutdownStalled] != 1 {
		t.Errorf("invariants evaluated %v", c.Invariants)
	}
	if c.Runs != 1 || len(c.Faults) != 0 {
		t.Errorf("runs %d, faults %v in a run without faults", c.Runs, c.Faults)
	}
}

// The JSON form has the documented shape; Merge adds counts; the table names what is missing.
func TestCoverageJSONMergeAndTable(t *testing.T) {
	a, b := Run(DefaultOptions(1)).Coverage, Run(DefaultOptions(2)).Coverage
	msgs := a.FrameSent["MSG"] + b.FrameSent["MSG"]
	total := NewCoverage()
	total.Merge(a)
	total.Merge(b)
	if total.Runs != 2 || total.FrameSent["MSG"] != msgs {
		t.Fatalf("merged runs %d, MSG %d want %d", total.Runs, total.FrameSent["MSG"], msgs)
	}
	raw, err := json.Marshal(total)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	j := map[string]map[string]any{}
	for k, v := range top {
		if m, ok := v.(map[string]any); ok {
			j[k] = m
		}
	}
	if top["runs"].(float64) != 2 {
		t.Fatalf("runs: %v", top["runs"])
	}
	st := j["states"]
	if st["total"].(float64) != float64(len(proto.AllStates())) || st["reached"].(float64) < 10 {
		t.Fatalf("states: %v", st)
	}
	missing := st["missing"].([]any)
	if int(st["reached"].(float64))+len(missing) != len(proto.AllStates()) {
		t.Fatalf("states reached+missing != total: %v", st)
	}
	for _, k := range []string{"transitions", "reply_tags", "frame_tags", "faults", "decisions", "invariants"} {
		if _, ok := j[k]["reached"]; !ok {
			t.Errorf("%s lacks reached: %v", k, j[k])
		}
	}
	if rt := j["reply_tags"]; rt["sent"] == nil || rt["received"] == nil || rt["total"].(float64) != 10 {
		t.Errorf("reply tags: %v", rt)
	}
	table := total.Table()
	for _, want := range []string{"coverage over 2 run(s)", "states", "missing:", "WAIT", "unreachable by design: CHALLENGE_AUTHORIZER"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestFaultKinds(t *testing.T) {
	f := SwarmFaults(detrand.NewSeeded(11))
	f.On[FaultReset], f.On[FaultCorrupt] = true, true
	opts := DefaultOptions(11)
	opts.Faults = &f
	r := Run(opts)
	if !r.Pass {
		t.Fatal(r)
	}
	n := 0
	for k, v := range r.Coverage.Faults {
		n += v
		found := false
		for _, known := range FaultKinds {
			found = found || k == known
		}
		if !found {
			t.Errorf("fault kind %q is not in FaultKinds", k)
		}
	}
	if n != r.Stats.ConnFaults || n == 0 {
		t.Fatalf("%d faults classified, %d reported", n, r.Stats.ConnFaults)
	}
}
