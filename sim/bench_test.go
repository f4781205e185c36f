package sim

import "testing"

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
