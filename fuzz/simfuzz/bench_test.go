package simfuzz

import (
	"math/rand/v2"
	"testing"
)

// benchInputs is a fixed set of FuzzSim inputs, the one scripts/simspeed's fuzz kind runs:
// the seeds, then 40 pseudo-random inputs of 0-1 KiB.
func benchInputs(tb testing.TB) [][]byte {
	in, err := Seeds()
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(18, 6))
	for range 40 {
		d := make([]byte, r.IntN(MaxInput+1))
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		in = append(in, d)
	}
	return in
}

// BenchmarkCheck runs Check over a fixed set of inputs, one input per iteration: what a
// fuzzing worker spends per execution, without the fuzzing engine's own cost.
func BenchmarkCheck(b *testing.B) {
	inputs := benchInputs(b)
	b.Setenv(TapeDirEnv, b.TempDir())
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := Check(inputs[i%len(inputs)]); err != nil {
			b.Fatalf("input %d: %v", i%len(inputs), err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
}
