package explore

import (
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
)

// explore catches the deliberate bugs (go test -tags canary -run TestCanar ./workload/explore):
// each at a specific point, by the invariant the canary table names, and the same point passes
// on the real code. norequeue and nodiscard are also caught over a whole policy's points.
func TestCanariesExplore(t *testing.T) {
	if !canary.Enabled {
		t.Skip("needs -tags canary")
	}
	cases := []struct {
		canary, policy, point, inv string
	}{
		{"norequeue", "lossless-peer", "connector/write/msg/1/reset", "lossless-loss"},
		{"norequeue", "stateful-server", "acceptor/read/footer/1/reset", "lossless-loss"},
		{"nodiscard", "lossless-peer", "connector/write/msg/2/reset", "duplicate-delivery"},
		{"lossyack", "lossy-client", "acceptor/read/msg/1/reset", "lossy-ack"},
		{"overack", "lossless-peer", "connector/write/msg/2/stall", "ack-unreceived"},
		{"throttleleak", "lossy-client", "connector/write/banner/1/reset", "throttle-leak"},
		{"doublerelease", "lossy-client", "connector/write/banner/1/reset", "throttle-negative"},
		{"noforget", "lossy-client", "connector/write/banner/1/reset", "registry-closed"},
		{"dupregister", "lossy-client", "connector/write/banner/1/reset", "registry-duplicate"},
	}
	for _, c := range cases {
		t.Run(c.canary+"/"+c.point, func(t *testing.T) {
			k, err := canary.Parse(c.canary)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Policy: mustPolicy(t, c.policy), Points: []Point{mustPoint(t, c.point)}}
			if r := Run(cfg); !r.Pass {
				t.Fatalf("fails without the canary: %v", r.Violations)
			}
			defer canary.Set(canary.Set(k))
			if r := Run(cfg); !violated(r, c.inv) {
				t.Errorf("%s at %s %s: not caught by %s: %v", c.canary, c.policy, c.point, c.inv, r.Violations)
			}
		})
	}
	for _, name := range []string{"norequeue", "nodiscard"} {
		t.Run(name+"/all", func(t *testing.T) {
			k, _ := canary.Parse(name)
			defer canary.Set(canary.Set(k))
			pol := mustPolicy(t, "lossless-peer")
			points, _ := Enumerate(pol, 3, 0)
			caught := 0
			for _, p := range points {
				if r := Run(Config{Policy: pol, Points: []Point{p}}); !r.Pass {
					caught++
				}
			}
			if caught < 20 {
				t.Errorf("%s caught at only %d of %d points", name, caught, len(points))
			}
		})
	}
}

// outOfReach are the canaries explore cannot see, and why. A new canary is held to explore by
// TestCanariesExploreAll unless it is listed here with its reason: a handshake or session bug
// of the messenger must be caught at some fault point.
var outOfReach = map[string]string{
	"nodedupe":   "a bug of the cluster workload's OSDs, not of the messenger: explore runs no cluster",
	"nosigcheck": "explore runs auth none: no session is signed, and it injects no tamper",
}

// Every canary of the messenger is caught at some fault point of some policy: the first failing
// point is enough (most fail within the first few).
func TestCanariesExploreAll(t *testing.T) {
	if !canary.Enabled {
		t.Skip("needs -tags canary")
	}
	enumerated := map[string][]Point{}
	for _, pol := range Policies {
		enumerated[pol.Name], _ = Enumerate(pol, 3, 0)
	}
	for _, c := range canary.All {
		if _, skip := outOfReach[c.Name]; skip {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			defer canary.Set(canary.Set(c.Kind))
			for _, pol := range Policies {
				for _, p := range enumerated[pol.Name] {
					if r := Run(Config{Policy: pol, Points: []Point{p}}); !r.Pass {
						t.Logf("caught at %s %v by %s", pol.Name, p, r.Violations[0].Name)
						return
					}
				}
			}
			t.Errorf("%s (%s) passes every fault point of every policy", c.Name, c.Bug)
		})
	}
}
