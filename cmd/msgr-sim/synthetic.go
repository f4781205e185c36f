package main

import (
	"fmt"
	"io"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/sim"
	"github.com/msgrsim/msgrsim/workload/synthetic"
)

// -workload synthetic: Ceph's SyntheticWorkload in the simulator. The preset is drawn from the
// seed unless -preset names one; either way it is scaled down to the simulator's size.

// finishSynthetic checks the flags of -workload synthetic.
func (sf *scenarioFlags) finishSynthetic() error {
	for _, fl := range []string{"osds", "clients", "messages"} {
		if sf.set[fl] {
			return fmt.Errorf("-%s does not apply to -workload synthetic (use -preset)", fl)
		}
	}
	if _, err := sim.ParseFaults(sf.faults, detrand.NewSeeded(0)); err != nil {
		return err
	}
	if sf.preset == "" {
		return nil
	}
	_, err := synthetic.Preset(sf.preset)
	return err
}

// syntheticOptions selects the synthetic workload in opts (the -preset one if given). Its
// messengers do not crash: sim.Options.WithDefaults leaves crash faults out of the mix, as
// every run of it does.
func (sf *scenarioFlags) syntheticOptions(opts *sim.Options) {
	opts.Workload = sim.WorkloadSynthetic
	opts.Preset = sf.preset
}

// describeSynthetic is the configuration line printed before a synthetic run.
func describeSynthetic(opts sim.Options) string {
	name, cfg := sim.SyntheticFor(opts.Seed)
	if opts.Preset != "" {
		name = opts.Preset
		c, _ := synthetic.Preset(name)
		cfg = sim.ScaleSynthetic(c)
	}
	what := fmt.Sprintf("preset %s: %v", name, cfg)
	return fmt.Sprintf("seed %d  workload synthetic %s  faults %v", opts.Seed, what, *opts.Faults)
}

func printSynthetic(w io.Writer, r *sim.SyntheticReport) {
	st := r.Stats
	fmt.Fprintf(w, "synthetic: %d pings, %d pongs (%d checked FIFO and content), %d commands; ops connect=%d drop=%d send=%d sleep=%d, blocked %d; resets %d, remote resets %d, connects %d, accepts %d, pending forgotten %d\n",
		st.Pings, st.Pongs, st.PongsChecked, st.Commands, st.Ops[synthetic.OpConnect], st.Ops[synthetic.OpDrop],
		st.Ops[synthetic.OpSend], st.Ops[synthetic.OpSleep], st.Blocked, st.Resets, st.RemoteResets, st.Connects, st.Accepts, st.ForgottenPing)
}

type jsonSynthetic struct {
	Preset       string `json:"preset,omitempty"`
	Config       string `json:"config"`
	Pings        int    `json:"pings"`
	Pongs        int    `json:"pongs"`
	PongsChecked int    `json:"pongs_checked"`
	Commands     int    `json:"commands"`
	Dropped      int    `json:"connections_dropped"`
	Resets       int    `json:"resets"`
	RemoteResets int    `json:"remote_resets"`
}

func syntheticJSON(r *sim.SyntheticReport) *jsonSynthetic {
	if r == nil {
		return nil
	}
	st := r.Stats
	return &jsonSynthetic{Preset: r.Preset, Config: r.Config.String(), Pings: st.Pings, Pongs: st.Pongs,
		PongsChecked: st.PongsChecked, Commands: st.Commands, Dropped: st.Dropped, Resets: st.Resets,
		RemoteResets: st.RemoteResets}
}
