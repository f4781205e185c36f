package sim

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// BenchmarkRunDefault runs the default scenario, one seed per iteration (the swarm's unit of
// work); it reports simulated messages per second next to ns per seed.
func BenchmarkRunDefault(b *testing.B) {
	b.ReportAllocs()
	delivered := 0
	for i := range b.N {
		r := Run(DefaultOptions(uint64(i%200) + 1))
		if !r.Pass {
			b.Fatalf("seed %d: %v", i%200+1, r.Violations)
		}
		delivered += r.Delivered
	}
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(delivered)/float64(b.N), "msgs/seed")
}

// BenchmarkRunSteady is the default scenario with 2,000 messages per stream: the simulator's
// rate in steady traffic, where handshakes and shutdown no longer dominate.
func BenchmarkRunSteady(b *testing.B) {
	b.ReportAllocs()
	delivered := 0
	for i := range b.N {
		o := DefaultOptions(uint64(i%3) + 1)
		o.Messages = 2000
		r := Run(o)
		if !r.Pass {
			b.Fatalf("seed %d: %v", o.Seed, r.Violations)
		}
		delivered += r.Delivered
	}
	b.ReportMetric(float64(delivered)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRunCluster runs the Ceph-shaped cluster workload (a monitor, 3 OSDs with six
// messengers each, 2 KV clients, 50 operations each) with the seed's swarm faults, one seed
// per iteration: what `msgr-sim sweep -workload cluster` runs.
func BenchmarkRunCluster(b *testing.B) {
	b.ReportAllocs()
	for i := range b.N {
		o := DefaultOptions(uint64(i%50) + 1)
		o.OSDs, o.Clients, o.Messages, o.Workload = 3, 2, 50, WorkloadCluster
		f, err := ParseFaults("swarm", detrand.NewSeeded(o.Seed))
		if err != nil {
			b.Fatal(err)
		}
		o.Faults = &f
		if r := Run(o); !r.Pass {
			b.Fatalf("seed %d: %v", o.Seed, r.Violations)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "seeds/s")
}
