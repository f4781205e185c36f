package sim

import (
	"github.com/msgrsim/msgrsim/sim/harness"
	"github.com/msgrsim/msgrsim/workload/cluster"
	"github.com/msgrsim/msgrsim/workload/pingpong"
	"github.com/msgrsim/msgrsim/workload/synthetic"
	"github.com/msgrsim/msgrsim/workload/synthetic/synthsim"
)

// Workloads (Options.Workload).
const (
	// WorkloadDefault: OSD-like nodes exchange lossless messages, clients send lossy ones
	// (package workload/pingpong).
	WorkloadDefault = "default"
	// WorkloadCluster: the Ceph-shaped cluster — a monitor, OSDs with six messengers each,
	// clients of a replicated key-value service — checked for linearizability (package
	// workload/cluster).
	WorkloadCluster = "cluster"
	// WorkloadSynthetic: Ceph's SyntheticWorkload (package workload/synthetic) on simulated
	// hosts (workload/synthetic/synthsim), crash faults off.
	WorkloadSynthetic = "synthetic"
)

// newWorkload is the workload opts.Workload on h.
func newWorkload(h *harness.Run, opts Options) harness.Workload {
	switch opts.Workload {
	case WorkloadCluster:
		return cluster.New(h, cluster.Config{OSDs: opts.OSDs, Clients: opts.Clients, Messages: opts.Messages, Window: opts.Window,
			Auth: opts.authFor()})
	case WorkloadSynthetic:
		return synthsim.New(h, synthsim.Config{Seed: opts.Seed, Window: opts.Window, Synthetic: opts.Synthetic, Preset: opts.Preset})
	}
	return pingpong.New(h, pingpong.Config{OSDs: opts.OSDs, Clients: opts.Clients, Messages: opts.Messages, Window: opts.Window})
}

// SyntheticReport is what a synthetic run adds to its Result (synthsim.Report).
type SyntheticReport = synthsim.Report

// SyntheticFor is the synthetic workload a seed runs by default: one of Ceph's presets, drawn
// from the seed, scaled down (synthsim.For).
func SyntheticFor(seed uint64) (preset string, cfg synthetic.Config) { return synthsim.For(seed) }

// ScaleSynthetic scales a preset down to a size the simulator runs in about a second or less
// (synthsim.Scale).
func ScaleSynthetic(cfg synthetic.Config) synthetic.Config { return synthsim.Scale(cfg) }
