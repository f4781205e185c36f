package simfuzz

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/sim"
)

// freshInputEnv makes TestRecycledRunsMatchAFreshProcess, in a child process, run one input
// as the process's first run and print its trace hash.
const freshInputEnv = "MSGRSIM_FRESH_INPUT"

// recycleInputs are a few of the benchmark's inputs: no bytes, a seeded run's, pseudo-random.
func recycleInputs(tb testing.TB) [][]byte {
	in := benchInputs(tb)
	return [][]byte{in[0], in[6], in[len(in)-1], in[len(in)-2]}
}

// A run reuses the memory of the runs before it in the process (their messengers,
// connections and centers, recycled by harness.Run.Release, besides the network's and the
// checker's): each input gives the same trace in a process that ran the others before it,
// twice, as in a fresh process where it is the first run and nothing is recycled.
func TestRecycledRunsMatchAFreshProcess(t *testing.T) {
	inputs := recycleInputs(t)
	if k := os.Getenv(freshInputEnv); k != "" {
		i, err := strconv.Atoi(k)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("trace %016x\n", sim.Run(Options(inputs[i])).TraceHash)
		return
	}
	for range 2 {
		for _, in := range inputs {
			sim.Run(Options(in))
		}
	}
	for i, in := range inputs {
		got := sim.Run(Options(in)).TraceHash
		cmd := exec.Command(os.Args[0], "-test.run=^TestRecycledRunsMatchAFreshProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), freshInputEnv+"="+strconv.Itoa(i))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("input %d in a fresh process: %v\n%s", i, err, out)
		}
		var fresh uint64
		for _, line := range strings.Split(string(out), "\n") {
			if h, ok := strings.CutPrefix(line, "trace "); ok {
				fresh, err = strconv.ParseUint(h, 16, 64)
				if err != nil {
					t.Fatalf("input %d: %q", i, line)
				}
			}
		}
		if fresh == 0 {
			t.Fatalf("input %d: the fresh process printed no trace:\n%s", i, out)
		}
		if got != fresh {
			t.Errorf("input %d (%d bytes): trace %016x after recycled runs, %016x in a fresh process", i, len(in), got, fresh)
		}
	}
}
