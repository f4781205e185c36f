package canary_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
)

func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range canary.All {
		if c.Kind != canary.Kind(i+1) || canary.Of(c.Kind).Name != c.Name || c.Kind.String() != c.Name {
			t.Errorf("All[%d] = %s (kind %d): the table must be in Kind order", i, c.Name, c.Kind)
		}
		if seen[c.Name] || c.Name == "" || c.Name == "none" || c.Bug == "" {
			t.Errorf("All[%d]: duplicate, reserved or empty name %q, or no description", i, c.Name)
		}
		seen[c.Name] = true
		if k, err := canary.Parse(c.Name); err != nil || k != c.Kind {
			t.Errorf("Parse(%q) = %v, %v", c.Name, k, err)
		}
	}
	for _, name := range []string{"", "none"} {
		if k, err := canary.Parse(name); err != nil || k != canary.None {
			t.Errorf("Parse(%q) = %v, %v; want None", name, k, err)
		}
	}
	if _, err := canary.Parse("nosuch"); err == nil || !strings.Contains(err.Error(), canary.Names()) {
		t.Errorf("Parse(nosuch): %v; want an error listing the canaries", err)
	}
	if c := canary.Of(canary.None); c.Name != "" || canary.None.String() != "none" {
		t.Errorf("Of(None) = %+v, String %q", c, canary.None)
	}
}

func TestSet(t *testing.T) {
	if canary.Selected() != canary.None {
		t.Skipf("canary %s selected from the environment", canary.Selected())
	}
	if !canary.Enabled {
		if canary.Set(canary.None) != canary.None || canary.On(canary.NoRequeue) || canary.On(canary.None) {
			t.Fatal("a normal build selected a canary")
		}
		defer func() {
			if recover() == nil {
				t.Fatal("Set(NoRequeue) on a normal build did not panic")
			}
		}()
		canary.Set(canary.NoRequeue)
		return
	}
	if prev := canary.Set(canary.OverAck); prev != canary.None {
		t.Fatalf("Set returned %s, want none", prev)
	}
	if !canary.On(canary.OverAck) || canary.On(canary.NoRequeue) || canary.Selected() != canary.OverAck {
		t.Fatal("OverAck selected, On does not say so")
	}
	if prev := canary.Set(canary.None); prev != canary.OverAck || canary.On(canary.OverAck) {
		t.Fatalf("Set(None) returned %s and left OverAck on: %v", prev, canary.On(canary.OverAck))
	}
}

// The environment selects a canary when the program starts; a program that cannot honour it
// stops with a message instead of running without it.
func TestEnvironment(t *testing.T) {
	if os.Getenv("CANARY_TEST_CHILD") != "" {
		fmt.Printf("selected=%s\n", canary.Selected())
		return
	}
	child := func(value string) (string, int) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvironment$", "-test.v")
		cmd.Env = append(os.Environ(), "CANARY_TEST_CHILD=1", canary.EnvVar+"="+value)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := child("nosuch"); code != 2 || !strings.Contains(out, canary.EnvVar+"=nosuch: unknown canary") {
		t.Errorf("unknown name: exit %d\n%s", code, out)
	}
	if out, code := child(""); code != 0 || !strings.Contains(out, "selected=none") {
		t.Errorf("empty: exit %d\n%s", code, out)
	}
	out, code := child("norequeue")
	switch {
	case canary.Enabled && (code != 0 || !strings.Contains(out, "selected=norequeue")):
		t.Errorf("canary build: exit %d\n%s", code, out)
	case !canary.Enabled && (code != 2 || !strings.Contains(out, "built without -tags canary")):
		t.Errorf("normal build: exit %d\n%s", code, out)
	}
}
