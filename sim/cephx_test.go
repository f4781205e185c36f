package sim

import (
	"bytes"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// cephxRun runs the cluster workload (3 OSDs, 2 clients) for seed with auth and the faults
// spec.
func cephxRun(t *testing.T, seed uint64, auth, faults string) Result {
	t.Helper()
	o := DefaultOptions(seed)
	o.Workload, o.OSDs, o.Clients, o.Auth = WorkloadCluster, 3, 2, auth
	f, err := ParseFaults(faults, detrand.NewSeeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	o.Faults = &f
	return Run(o)
}

// With cephx the cluster's sessions to OSDs go through the challenge round, the probe's
// foreign ticket and late renewals get BADAUTHORIZER, secrets rotate within the run, and
// every run passes.
func TestCephxClusterReach(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		r := cephxRun(t, seed, AuthCephx, "none")
		if !r.Pass || r.Auth != AuthCephx {
			t.Fatalf("%v (auth %q): %v", r, r.Auth, r.Violations)
		}
		if r.Coverage.Reach["reply-challenge-authorizer"] == 0 || r.Coverage.Reach["reply-badauthorizer"] == 0 {
			t.Errorf("seed %d: challenge %d, badauthorizer %d", seed, r.Coverage.Reach["reply-challenge-authorizer"],
				r.Coverage.Reach["reply-badauthorizer"])
		}
		if !strings.Contains(r.Summary, "cephx: ticket ttl") || strings.Contains(r.Summary, " 0 rotations") {
			t.Errorf("seed %d: no rotation within the run:\n%s", seed, r.Summary)
		}
	}
}

// With signing on, messages rewritten in flight with their crcs recomputed are never
// dispatched (the runs check tampered-dispatch) and the sessions recover (the runs pass,
// liveness included).
func TestTamperSignedNeverDispatched(t *testing.T) {
	tampered := 0
	for seed := uint64(1); seed <= 6; seed++ {
		r := cephxRun(t, seed, AuthCephx, "tamper")
		if !r.Pass {
			t.Fatalf("%v: %v", r, r.Violations)
		}
		tampered += r.Stats.Tampered
		if r.Stats.TamperedDispatched != 0 {
			t.Fatalf("seed %d: %d tampered messages dispatched on unsigned sessions", seed, r.Stats.TamperedDispatched)
		}
	}
	if tampered == 0 {
		t.Fatal("nothing was tampered with")
	}
}

// A node without MSG_AUTH (the configuration swarm's oldfooter knob) neither signs nor checks
// signatures, cephx or not (Ceph's cephx signs only with the feature): tamper leaves sessions
// without it alone, as it leaves the monitor's unsigned ones. The injector once took every
// session opened with a cephx authorizer for a signed one, and seed 3 of the default
// configuration swarm dispatched tampered heartbeats (corrupt-delivery).
func TestTamperOnlySignedSessions(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		o := DefaultOptions(seed)
		o.Workload, o.OSDs, o.Clients, o.Auth = WorkloadCluster, 3, 2, AuthCephx
		f, _ := ParseFaults("swarm,tamper", detrand.NewSeeded(seed))
		o.Faults, o.Knobs = &f, &Knobs{OldFooterNodes: 0xffff}
		if r := Run(o); !r.Pass || r.Stats.Tampered != 0 {
			t.Fatalf("seed %d, no node with MSG_AUTH: %d tampered: %v %v", seed, r.Stats.Tampered, r, r.Violations)
		}
	}
	if r := cephxRun(t, 3, AuthCephx, "swarm,tamper"); !r.Pass || r.Stats.Tampered == 0 {
		t.Fatalf("seed 3 (knobs %v): %v, %d tampered: %v", r.Knobs, r, r.Stats.Tampered, r.Violations)
	}
}

// With signing off (auth none) crcs alone do not protect: a message rewritten in flight with
// its crc recomputed is dispatched.
func TestTamperUnsignedIsDispatched(t *testing.T) {
	dispatched := 0
	for seed := uint64(1); seed <= 12 && dispatched == 0; seed++ {
		r := cephxRun(t, seed, AuthNone, "tamper")
		dispatched += r.Stats.TamperedDispatched
	}
	if dispatched == 0 {
		t.Fatal("no tampered message was dispatched on an unsigned session")
	}
}

// A cephx run's tape says auth=cephx, and its replay is the same run.
func TestCephxTape(t *testing.T) {
	o := DefaultOptions(7)
	o.Workload, o.OSDs, o.Clients, o.Auth = WorkloadCluster, 3, 2, AuthCephx
	f, _ := ParseFaults("swarm,tamper", detrand.NewSeeded(7))
	o.Faults = &f
	plain := Run(o)
	tape, _ := TapeOf(o)
	var buf bytes.Buffer
	if _, err := tape.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), " auth=cephx ") || !strings.Contains(buf.String(), "tamper") {
		t.Fatalf("the tape does not say auth=cephx and tamper:\n%.400s", buf.String())
	}
	back, err := ReadTape(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if rep := back.Replay(); rep.TraceHash != plain.TraceHash || rep.Auth != AuthCephx {
		t.Fatalf("replay %v (auth %q), run %v", rep, rep.Auth, plain)
	}
}
