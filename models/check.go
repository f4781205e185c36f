package models

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the outcome of a linearizability check.
type Verdict string

// Verdicts.
const (
	Linearizable    Verdict = "linearizable"
	NotLinearizable Verdict = "not linearizable"
	Unknown         Verdict = "unknown (timed out)"
)

// CheckOptions control a check.
type CheckOptions struct {
	// Timeout bounds the check (0: none, so the verdict is never Unknown and a run's verdict
	// is reproducible).
	Timeout time.Duration
	// VisualizeDir is where the HTML visualization of a failed check is written (default:
	// os.TempDir()). NoVisualize turns writing it off.
	VisualizeDir string
	NoVisualize  bool
	// Name is the stem of the visualization's file name, e.g. "kv-seed-42" (default: the
	// model's name).
	Name string
}

// Report is what a check found.
type Report struct {
	Model      string // "fifo" or "kv"
	Verdict    Verdict
	Operations int
	Partitions int
	// Failed names the partitions (streams, keys) whose history is not linearizable, sorted.
	Failed []string
	// Elapsed is the wall time the check took.
	Elapsed time.Duration
	// Visualization is the path of porcupine's HTML visualization, written when the history
	// is not linearizable; VisualizeErr says why it could not be written.
	Visualization string
	VisualizeErr  error
}

// OK reports whether the history was found linearizable.
func (r Report) OK() bool { return r.Verdict == Linearizable }

func (r Report) String() string {
	s := fmt.Sprintf("%s: %d operations in %d partitions: %s (%v)", r.Model, r.Operations, r.Partitions,
		r.Verdict, r.Elapsed.Round(time.Microsecond))
	if len(r.Failed) > 0 {
		s += "; failed: " + strings.Join(r.Failed, ", ")
	}
	if r.Visualization != "" {
		s += "; visualization: " + r.Visualization
	}
	if r.VisualizeErr != nil {
		s += fmt.Sprintf("; visualization not written: %v", r.VisualizeErr)
	}
	return s
}

// partition is one partition's operations and its name.
type partition struct {
	name string
	ops  []porcupine.Operation
}

// check runs porcupine on each partition in turn (so a failure names its partition), then,
// when some failed, once more on the failed partitions to write the visualization (the
// partitions that passed would only widen the page).
func check(name string, model porcupine.Model, parts []partition, opts CheckOptions) Report {
	start := time.Now()
	rep := Report{Model: name, Verdict: Linearizable, Partitions: len(parts)}
	perPart := model
	perPart.Partition = nil
	var failed []porcupine.Operation
	for _, p := range parts {
		rep.Operations += len(p.ops)
		switch porcupine.CheckOperationsTimeout(perPart, p.ops, opts.Timeout) {
		case porcupine.Illegal:
			rep.Verdict = NotLinearizable
			rep.Failed = append(rep.Failed, p.name)
			failed = append(failed, p.ops...)
		case porcupine.Unknown:
			if rep.Verdict == Linearizable {
				rep.Verdict = Unknown
			}
		}
	}
	rep.Elapsed = time.Since(start)
	if rep.Verdict == NotLinearizable && !opts.NoVisualize {
		rep.Visualization, rep.VisualizeErr = visualize(name, model, failed, opts)
	}
	return rep
}

// visualize writes porcupine's HTML visualization of history and returns its path.
func visualize(name string, model porcupine.Model, history []porcupine.Operation, opts CheckOptions) (string, error) {
	_, info := porcupine.CheckOperationsVerbose(model, history, opts.Timeout)
	dir := opts.VisualizeDir
	if dir == "" {
		dir = os.TempDir()
	}
	stem := opts.Name
	if stem == "" {
		stem = name
	}
	if strings.ContainsAny(stem, `/\`) {
		return "", errors.New("models: visualization name must not contain a path separator")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("models: visualization dir: %w", err)
	}
	path := filepath.Join(dir, stem+".html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return "", fmt.Errorf("models: write visualization %s: %w", path, err)
	}
	return path, nil
}
