package sim

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/detrand"
)

// Every cluster-workload seed in testdata/regressions/cluster.txt once found a bug; it must
// pass now, deterministically.
func TestClusterRegressions(t *testing.T) {
	runRegressions(t, "cluster.txt", parseClusterRegression)
}

// parseClusterRegression reads a line of cluster.txt: seed osds clients messages faults, and
// "swarm" when the seed was found with the configuration swarm (msgr-sim's default since it
// was turned on): the lines before it run with -swarm=false, as they were found.
func parseClusterRegression(line string) (Options, string, error) {
	var seed uint64
	var osds, clients, messages int
	var faults string
	_, err := fmt.Sscan(line, &seed, &osds, &clients, &messages, &faults)
	return Options{Seed: seed, Workload: WorkloadCluster, OSDs: osds, Clients: clients, Messages: messages,
		NoSwarm: !swarmField(line, 5)}, faults, err
}

// swarmField reports whether a regression line's field n (from 0) is "swarm".
func swarmField(line string, n int) bool {
	f := strings.Fields(line)
	return len(f) > n && f[n] == "swarm"
}

// runRegressions runs every case of testdata/regressions/name, one per line ('#' starts a
// comment): parse turns a line into the run's options and its faults ("swarm", "none", …,
// drawn from the seed); each run must pass.
func runRegressions(t *testing.T, name string, parse func(line string) (Options, string, error)) {
	t.Helper()
	f, err := os.Open("../testdata/regressions/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		opts, faults, err := parse(line)
		if err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		fl, err := ParseFaults(faults, detrand.NewSeeded(opts.Seed))
		if err != nil {
			t.Fatal(err)
		}
		opts.Faults = &fl
		if r := Run(opts); !r.Pass {
			t.Errorf("%s: %v\n%v", strings.TrimSpace(sc.Text()), r, r.Violations)
		}
		n++
	}
	if n == 0 {
		t.Fatalf("no regression cases in %s", name)
	}
}

// Every seed in testdata/regressions/cephx.txt (the cluster workload with cephx) once found a
// bug; it must pass now.
func TestCephxRegressions(t *testing.T) {
	runRegressions(t, "cephx.txt", func(line string) (Options, string, error) {
		o, faults, err := parseClusterRegression(line)
		o.Auth = AuthCephx
		return o, faults, err
	})
}
