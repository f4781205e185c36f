package check

import (
	"fmt"

	"github.com/msgrsim/msgrsim/models"
)

// This file runs porcupine, whose checker starts goroutines. It is called only after the
// world stopped (every messenger shut down, no step will run again), so the simulation itself
// stays on one goroutine; the verdict does not depend on scheduling. internal/lint allows
// calls of models.Check* below the seam only in files named *_postrun.go.

// CheckModels checks the recorded histories: every lossless session against the FIFO model
// and, when kv is not nil, a key-value history against the KV model (opts.Name is set per
// model from seed). A history that is not linearizable is a violation (InvFIFO, InvKV).
func (r *Histories) CheckModels(kv *models.KVHistory, seed uint64, opts models.CheckOptions) []models.Report {
	opts.Name = fmt.Sprintf("fifo-seed-%d", seed)
	rep := models.CheckFIFO(r.fifo.Ops(), opts)
	reports := []models.Report{rep}
	r.noteModel(InvFIFO, rep)
	if kv != nil {
		opts.Name = fmt.Sprintf("kv-seed-%d", seed)
		rep := models.CheckKV(kv.Ops(), opts)
		reports = append(reports, rep)
		r.noteModel(InvKV, rep)
	}
	return reports
}

func (r *Histories) noteModel(inv string, rep models.Report) {
	r.cov.Evaluated(inv, 1)
	if rep.Verdict == models.NotLinearizable {
		r.check.Violate(inv, r.now(), "%v", rep)
	}
}
