package sim

import (
	"fmt"

	"github.com/msgrsim/msgrsim/models"
)

// This file runs porcupine, whose checker starts goroutines. It is called only after the
// world stopped (every messenger shut down, no step will run again), so the simulation itself
// stays on one goroutine; the verdict does not depend on scheduling. internal/lint allows
// calls of models.Check* below the seam only in files named *_postrun.go.

// checkModels checks the recorded histories: every lossless stream against the FIFO model,
// and the cluster's key-value history against the KV model.
func (s *scenario) checkModels() {
	if s.opts.inspect != nil {
		s.opts.inspect(s)
	}
	opts := models.CheckOptions{VisualizeDir: s.opts.VisualizeDir, NoVisualize: s.opts.NoVisualize}
	opts.Name = fmt.Sprintf("fifo-seed-%d", s.opts.Seed)
	rep := models.CheckFIFO(s.rec.fifo.Ops(), opts)
	s.modelReports = append(s.modelReports, rep)
	s.noteModel(InvFIFO, rep)
	if s.kv != nil {
		opts.Name = fmt.Sprintf("kv-seed-%d", s.opts.Seed)
		rep := models.CheckKV(s.kv.Ops(), opts)
		s.modelReports = append(s.modelReports, rep)
		s.noteModel(InvKV, rep)
	}
}

func (s *scenario) noteModel(inv string, rep models.Report) {
	s.cov.Evaluated(inv, 1)
	if rep.Verdict == models.NotLinearizable {
		s.check.Violate(inv, int64(s.w.Now()), "%v", rep)
	}
}
