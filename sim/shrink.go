package sim

import (
	"errors"
	"fmt"
	"time"
)

// ShrinkOptions bound a shrink.
type ShrinkOptions struct {
	// Target is the violation to keep (default: the first violation of the tape's replay).
	// A candidate tape is kept when its replay reports a violation with this name.
	Target   string
	MaxRuns  int           // replays allowed (default 20,000)
	Deadline time.Duration // wall time allowed, measured by Clock (0: none)
	// Clock reads wall time for Deadline; nil means no deadline. (The sim package never reads
	// the wall clock itself: callers pass time.Now.)
	Clock func() time.Time
	// Progress, if set, is told about every step that made the tape smaller.
	Progress func(step string, t Tape, runs int)
}

// ShrinkReport says what a shrink did.
type ShrinkReport struct {
	Violation            string // the violation every kept tape still produces
	Runs                 int    // replays performed
	Before, After        TapeSize
	BeforeRun, AfterRun  Result
	StoppedEarly         bool     // the run or time budget ran out
	FaultsOff, Workloads []string // what was dropped, in order
	KnobsReset           []string // knobs put back to their default, in order
}

// TapeSize is how big a tape is.
type TapeSize struct {
	Decisions int // decisions that are not 0
	Words     int // decisions up to the last one that is not 0
	Messages  int // messages per stream
	Faults    int // fault kinds on
	Knobs     int // knobs off their default
}

func sizeOf(t Tape) TapeSize {
	return TapeSize{Decisions: t.Decisions(), Words: len(t.Words), Messages: t.Messages, Faults: len(t.Faults.Names()), Knobs: len(t.Knobs.Set())}
}

func (s TapeSize) String() string {
	str := fmt.Sprintf("%d decisions (of %d), %d messages per stream, %d fault kinds", s.Decisions, s.Words, s.Messages, s.Faults)
	if s.Knobs > 0 {
		str += fmt.Sprintf(", %d knobs", s.Knobs)
	}
	return str
}

// hasViolation reports whether r violated the named invariant.
func hasViolation(r Result, name string) bool {
	for _, v := range r.Violations {
		if v.Name == name {
			return true
		}
	}
	return false
}

// errBudget ends a shrink whose budget ran out.
var errBudget = errors.New("shrink budget spent")

type shrinker struct {
	opts   ShrinkOptions
	target string
	best   Tape
	run    Result
	runs   int
	start  time.Time
	rep    *ShrinkReport
}

// Shrink makes a failing tape as small as it can while its replay still fails with the same
// first violation: it turns fault kinds off, shrinks the workload (fewer messages, no clients),
// then sets decisions to 0 — halves of them, quarters, … down to one at a time (delta
// debugging) — and lowers the rest, repeating until nothing more can go. Every tape it keeps
// is the tape its own replay recorded, so the result replays exactly.
func Shrink(t Tape, opts ShrinkOptions) (Tape, ShrinkReport, error) {
	if opts.MaxRuns <= 0 {
		opts.MaxRuns = 20_000
	}
	rep := ShrinkReport{Before: sizeOf(t)}
	s := &shrinker{opts: opts, rep: &rep}
	if opts.Clock != nil {
		s.start = opts.Clock()
	}
	r := t.Replay()
	s.runs++
	if r.Pass {
		return t, rep, errors.New("shrink: the tape's replay passes: nothing to shrink")
	}
	s.target, s.run = opts.Target, r
	if s.target == "" {
		s.target = r.Violations[0].Name
	}
	if !hasViolation(r, s.target) {
		return t, rep, fmt.Errorf("shrink: the tape's replay does not violate %s (it violates %s)", s.target, r.Violations[0].Name)
	}
	s.best = t
	s.best.Words = trimZeros(r.Tape)
	s.best.Expect = s.target
	rep.Violation, rep.BeforeRun = s.target, r
	err := s.loop()
	rep.Runs, rep.After, rep.AfterRun = s.runs, sizeOf(s.best), s.run
	if errors.Is(err, errBudget) {
		rep.StoppedEarly, err = true, nil
	}
	return s.best, rep, err
}

func (s *shrinker) loop() error {
	for {
		before := sizeOf(s.best)
		for _, pass := range []func() error{s.knobsDefault, s.faultsOff, s.workload, s.zeroChunks, s.deleteChunks, s.lowerValues} {
			if err := pass(); err != nil {
				return err
			}
		}
		if sizeOf(s.best) == before {
			return nil
		}
	}
}

// try replays cand and keeps it if it still fails the same way.
func (s *shrinker) try(step string, cand Tape) (bool, error) {
	if s.runs >= s.opts.MaxRuns {
		return false, errBudget
	}
	if s.opts.Clock != nil && s.opts.Deadline > 0 && s.opts.Clock().Sub(s.start) > s.opts.Deadline {
		return false, errBudget
	}
	s.runs++
	r := cand.Replay()
	if !hasViolation(r, s.target) {
		return false, nil
	}
	cand.Words = trimZeros(r.Tape)
	cand.Expect = s.target
	s.best, s.run = cand, r
	if s.opts.Progress != nil {
		s.opts.Progress(step, cand, s.runs)
	}
	return true, nil
}

// knobsDefault puts each knob of the configuration swarm back to its default (first: a
// failure of the default configuration is the simpler one to read).
func (s *shrinker) knobsDefault() error {
	for _, name := range s.best.Knobs.Set() {
		cand := s.best
		cand.Knobs = cand.Knobs.Reset(name)
		ok, err := s.try("knob "+name+" default", cand)
		if err != nil {
			return err
		}
		if ok {
			s.rep.KnobsReset = append(s.rep.KnobsReset, name)
		}
	}
	return nil
}

func (s *shrinker) faultsOff() error {
	for k := range s.best.Faults.On {
		if !s.best.Faults.On[k] {
			continue
		}
		cand := s.best
		cand.Faults.On[k] = false
		ok, err := s.try("fault "+Fault(k).String()+" off", cand)
		if err != nil {
			return err
		}
		if ok {
			s.rep.FaultsOff = append(s.rep.FaultsOff, Fault(k).String())
		}
	}
	return nil
}

func (s *shrinker) workload() error {
	if s.best.Clients > 0 {
		cand := s.best
		cand.Clients = 0
		if ok, err := s.try("no clients", cand); err != nil {
			return err
		} else if ok {
			s.rep.Workloads = append(s.rep.Workloads, "clients=0")
		}
	}
	// The fewest messages that still fail: try 1, 2, 4, … below the current count.
	for m := 1; m < s.best.Messages; m *= 2 {
		cand := s.best
		cand.Messages = m
		ok, err := s.try(fmt.Sprintf("%d messages", m), cand)
		if err != nil {
			return err
		}
		if ok {
			s.rep.Workloads = append(s.rep.Workloads, fmt.Sprintf("messages=%d", m))
			break
		}
	}
	return nil
}

// nonzero lists the indices of the decisions that are not 0.
func nonzero(w []uint64) []int {
	var idx []int
	for i, v := range w {
		if v != 0 {
			idx = append(idx, i)
		}
	}
	return idx
}

// zeroChunks sets runs of non-zero decisions to 0, from halves of them down to single ones.
func (s *shrinker) zeroChunks() error {
	return s.chunks("zero", func(words []uint64, del []int) []uint64 {
		out := append([]uint64(nil), words...)
		for _, i := range del {
			out[i] = 0
		}
		return out
	})
}

// deleteChunks removes runs of non-zero decisions from the tape, from halves of them down to
// single ones: the decisions after them move up, so a choice made at one point is made at an
// earlier one instead (what zeroing cannot express; it helps most after the workload shrank and
// the recorded decisions no longer line up with the points that draw them).
func (s *shrinker) deleteChunks() error {
	return s.chunks("delete", func(words []uint64, del []int) []uint64 {
		out := make([]uint64, 0, len(words))
		out = append(out, words[:del[0]]...)
		for j, i := range del {
			end := len(words)
			if j+1 < len(del) {
				end = del[j+1]
			}
			out = append(out, words[i+1:end]...)
		}
		return out
	})
}

// chunks is delta debugging over the non-zero decisions: edit runs of them (chunk of the
// non-zero indices at a time), from halves down to single ones, keeping every edit after
// which the tape still fails the same way.
func (s *shrinker) chunks(verb string, edit func(words []uint64, idx []int) []uint64) error {
	for chunk := max(1, len(nonzero(s.best.Words))/2); chunk >= 1; chunk /= 2 {
		for start := 0; ; {
			nz := nonzero(s.best.Words)
			if start >= len(nz) {
				break
			}
			idx := nz[start:min(start+chunk, len(nz))]
			cand := s.best
			cand.Words = edit(s.best.Words, idx)
			ok, err := s.try(fmt.Sprintf("%s %d decisions", verb, len(idx)), cand)
			if err != nil {
				return err
			}
			if !ok {
				start += chunk
			}
		}
		if chunk == 1 {
			break
		}
	}
	return nil
}

// lowerValues halves each remaining decision while the failure holds (shorter delays, earlier
// choices).
func (s *shrinker) lowerValues() error {
	for _, i := range nonzero(s.best.Words) {
		for range 8 {
			if i >= len(s.best.Words) || s.best.Words[i] <= 1 {
				break
			}
			cand := s.best
			cand.Words = append([]uint64(nil), s.best.Words...)
			cand.Words[i] /= 2
			ok, err := s.try("lower a decision", cand)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
		}
	}
	return nil
}
