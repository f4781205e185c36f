package sim

import (
	"github.com/msgrsim/msgrsim/models"
	"github.com/msgrsim/msgrsim/msgr"
)

// observe takes a messenger trace event: coverage, and the sessions messages go to.
func (s *scenario) observe(ev msgr.TraceEvent) {
	s.cov.Observe(ev)
	s.rec.Traced(ev)
}

// setUpRecording starts history recording.
func (s *scenario) setUpRecording() {
	s.rec = s.check.Record(func() int64 { return int64(s.w.Now()) }, s.cov)
}

// finishCoverage counts the phase invariants evaluated and returns the run's coverage.
func (s *scenario) finishCoverage() *Coverage {
	s.cov.Evaluated(InvNoProgress, 1)
	switch s.phase {
	case PhaseLiveness:
		s.cov.Evaluated(InvLiveness, 1)
	case PhaseShutdown, PhaseDone:
		s.cov.Evaluated(InvLiveness, 1)
		s.cov.Evaluated(InvShutdownStalled, 1)
	}
	return s.cov
}

// workloadSummary is the workload's own part of Result.Summary.
func (s *scenario) workloadSummary() string {
	if s.cl == nil {
		return ""
	}
	return s.cl.summary()
}

// checkModels checks the recorded histories after the run (check.Histories.CheckModels).
func (s *scenario) checkModels() {
	if s.opts.inspect != nil {
		s.opts.inspect(s)
	}
	s.modelReports = s.rec.CheckModels(s.kv, s.opts.Seed,
		models.CheckOptions{VisualizeDir: s.opts.VisualizeDir, NoVisualize: s.opts.NoVisualize})
}
