package sim

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// Seeds of the configuration swarm (on by default) that once failed, kept passing:
//   - 29, 102: a receiver dropped a resent old message without acknowledging it; its sender,
//     with nothing else to send, held it forever (liveness-timeout; quirk Q14's ACK).
//   - 197, 67, 169: a legacy reconnect (no RECONNECT_SEQ) to a restarted peer whose session
//     never opened was replaced: its messages, numbered from 1, were dropped as old by a
//     connector whose in_seq was already past them, and the ACK of its in_seq covered them
//     (ack-unreceived, fifo-linearizability; quirk Q14's RESETSESSION).
//   - 77, 15, 42, 29: Ceph's legacy READY reopen reset the acceptor's in_seq and out_seq
//     (duplicate-delivery, ack-unreceived; quirk Q14).
//   - 4774: an OSD restarted with the same nonce; its peer's replace for the restart (rule 8e)
//     was cut before the open, which forgot the restart and kept the old instance's in_seq,
//     so the new instance's messages were dropped as old and acknowledged (ack-unreceived,
//     lossless-loss; quirk Q15, found by the default sweep of 2026-12-07).
//   - 17506: an OSD restarted with the same nonce; its never-opened session took over its
//     peer's reconnect (rule 8h) and opened with SEQ, cut before the peer's in_seq arrived;
//     its legacy reconnect then met the peer's old in_seq, and its messages were dropped as
//     old and acknowledged (ack-unreceived, fifo-linearizability; quirk Q16, same sweep).
//   - 30690: the same restart; the never-opened session took over its peer's reconnect (rule
//     8h), the socket failed before the open, and it reconnected with connect_seq + 1 as the
//     continuation of the peer's session: its legacy reopen met the peer's old in_seq
//     (ack-unreceived, fifo-linearizability; quirk Q17: a reconnect to a never-opened session
//     is reset, same sweep).
//   - 33051: what a first form of Q17's fix (reset every reconnect to a never-opened
//     session) broke in the same sweep: the reconnect crossed the never-opened session's own
//     connect, which the peer had just opened, and the reset dropped a session both ends
//     shared (spurious-reset); now replaced while no reply to that connect was read.
//   - 55565, 101890, 105093, 122444, 178543, 186947, 197312: the rest of Q17's family, found
//     by a default sweep of seeds 36001-200000 on the code before Q17 (ack-unreceived, some
//     with fifo-linearizability, lossless-loss, liveness-timeout); all pass with Q17.
//   - 2696, 18: needless RESETSESSIONs the reset attribution excused as half-open accepts
//     until it licensed only the peer's half-open of a connect never heard answered
//     (spurious-reset). 2696: the connector read the SEQ reply's tag, cut before its in_seq,
//     and reset the acceptor's reconnect (Q17: that reply now leaves the connect unheard, so
//     it replaces). 18: a never-opened session lost a race, adopted the peer's socket, was
//     cut before the open and reconnected with connect_seq 1, which the peer's never-opened
//     session reset (Q14); it now forgets the adoption and reconnects with connect_seq 0.
//   - 215426, 265395: a checker false alarm (spurious-reset, fifo-linearizability), found by a
//     default sweep of seeds 80001-300000: b's legacy reconnect reached a before a read b's
//     READY, a's never-opened session answered RESETSESSION (Q14, licensed by b's half-open
//     accept), a then read the READY (the session open at both ends, the license gone) and b's
//     remote_reset found nothing to account for it. A remote_reset is now attributed as the
//     RESETSESSION it follows (check.TestRemoteResetFollowsItsResetSession).
//   - 28, 78: idle timeouts that came too soon (idle-timeout, the invariant added with them):
//     a session stalled on its receive throttle resumed parsing what it had buffered and
//     delivered a message 87 ms (seed 28) before its 100 ms idle timeout fired, counted from
//     its last socket read. Ceph's throttle retry runs process(), which sets last_active;
//     the core's retry now does too.
func TestSwarmRegressions(t *testing.T) {
	for _, seed := range []uint64{29, 102, 197, 67, 169, 77, 15, 42, 4774, 17506, 30690, 33051,
		55565, 101890, 105093, 122444, 178543, 186947, 197312, 2696, 18, 215426, 265395, 28, 78} {
		opts := DefaultOptions(seed)
		f := SwarmFaults(detrand.NewSeeded(seed))
		opts.Faults = &f
		r := Run(opts)
		if !r.Pass {
			t.Errorf("seed %d -swarm (knobs %v): %v\n%v", seed, r.Knobs, r, r.Violations)
		}
	}
}

// The knobs come from a stream of their own: a run with the swarm draws the same fault mix
// and, with every knob at its default, the same trace as one without.
func TestSwarmKnobsOwnStream(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		plain := DefaultOptions(seed)
		f := SwarmFaults(detrand.NewSeeded(seed))
		plain.Faults, plain.NoSwarm = &f, true
		def := plain
		def.NoSwarm, def.Knobs = false, &Knobs{}
		a, b := Run(plain), Run(def)
		if a.TraceHash != b.TraceHash {
			t.Errorf("seed %d: default knobs changed the trace: %016x vs %016x", seed, a.TraceHash, b.TraceHash)
		}
		if k := SeedKnobs(seed); k != SeedKnobs(seed) || k == (Knobs{}) && seed == 1 {
			t.Errorf("seed %d: knobs %v not drawn deterministically", seed, k)
		}
	}
}

// Knobs are written and read back (tapes, repro lines), and a swarm run's tape replays it.
func TestSwarmKnobsInTapes(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		k := SeedKnobs(seed)
		back, err := ParseKnobs(k.String())
		if err != nil || back != k {
			t.Fatalf("seed %d: %v read back as %v (%v)", seed, k, back, err)
		}
		for _, name := range k.Set() {
			seen[name] = true
			if k.Reset(name) == k {
				t.Errorf("Reset(%s) changed nothing in %v", name, k)
			}
		}
	}
	if len(seen) != len(KnobNames()) {
		t.Errorf("200 seeds drew only %d of %d knobs", len(seen), len(KnobNames()))
	}
	opts := DefaultOptions(5)
	tape, r := TapeOf(opts)
	if tape.Knobs == (Knobs{}) || tape.Knobs != r.Knobs {
		t.Fatalf("tape knobs %v, run knobs %v", tape.Knobs, r.Knobs)
	}
	var buf bytes.Buffer
	if _, err := tape.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTape(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Knobs, tape.Knobs) {
		t.Fatalf("knobs %v read back as %v", tape.Knobs, back.Knobs)
	}
	if again := back.Replay(); again.TraceHash != r.TraceHash {
		t.Fatalf("replayed tape: trace %016x, want %016x", again.TraceHash, r.TraceHash)
	}
}

// The shrinker puts knobs back to their defaults first: a run that fails whatever the
// configuration (here: past a small step budget) shrinks to the default configuration.
func TestShrinkKnobsToDefaults(t *testing.T) {
	opts := DefaultOptions(5)
	opts.StepBudget = 500
	tape, r := TapeOf(opts)
	if !hasViolation(r, OutcomeBudget) || len(tape.Knobs.Set()) == 0 {
		t.Fatalf("want a budget failure with knobs set: %v, knobs %v", r, tape.Knobs)
	}
	set := tape.Knobs.Set()
	small, rep, err := Shrink(tape, ShrinkOptions{Target: OutcomeBudget, MaxRuns: 40})
	if err != nil {
		t.Fatal(err)
	}
	if small.Knobs != (Knobs{}) || !reflect.DeepEqual(rep.KnobsReset, set) || rep.After.Knobs != 0 {
		t.Fatalf("knobs %v after shrinking (reset %v of %v)", small.Knobs, rep.KnobsReset, set)
	}
}
