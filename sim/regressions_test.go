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
	f, err := os.Open("../testdata/regressions/cluster.txt")
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
		var seed uint64
		var osds, clients, messages int
		var faults string
		if _, err := fmt.Sscan(line, &seed, &osds, &clients, &messages, &faults); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		fl, err := ParseFaults(faults, detrand.NewSeeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Seed: seed, Workload: WorkloadCluster, OSDs: osds, Clients: clients, Messages: messages, Faults: &fl}
		if r := Run(opts); !r.Pass {
			t.Errorf("%s: %v\n%v", strings.TrimSpace(sc.Text()), r, r.Violations)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no regression cases")
	}
}
