package msgr_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
	"pgregory.net/rapid"
)

// The Messenger API state-machine test has teeth: each deliberate bug of internal/canary's table
// that names an API invariant, selected in turn, makes rapid find a failing action sequence
// (within 2000 checks), and the failure names that invariant. rapid writes no fail file for
// these expected failures, and shrinks each for at most 5 s (a caught canary needs no minimal
// case). The subtests select a global canary: none of them may run in parallel.
func TestCanaries(t *testing.T) {
	if !canary.Enabled {
		t.Skip("the canaries need a build with -tags canary (go test -tags canary -run TestCanaries ./msgr)")
	}
	setRapidFlag(t, "rapid.checks", "2000")
	setRapidFlag(t, "rapid.nofailfile", "true")
	setRapidFlag(t, "rapid.shrinktime", "5s")
	for _, c := range canary.All {
		if c.API == "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			prev := canary.Set(c.Kind)
			defer canary.Set(prev)
			rec := &rapidRecorder{t: t}
			rec.check(testMessengerAPI)
			switch {
			case !rec.failed:
				t.Fatalf("TestMessengerAPI passed with canary %s selected: not caught", c.Name)
			case !strings.Contains(rec.failure(), c.API):
				t.Fatalf("TestMessengerAPI failed, but not by %s:\n%s\n%s", c.API, rec.failure(), strings.Join(rec.logs, "\n"))
			}
			t.Logf("caught by %s: %s", c.API, firstLine(rec.failure()))
		})
	}
}

// setRapidFlag sets one of rapid's command-line flags for the rest of t (rapid.Check has no
// other way to take options).
func setRapidFlag(t *testing.T, name, value string) {
	f := flag.Lookup(name)
	if f == nil {
		t.Fatalf("rapid has no flag -%s", name)
	}
	old := f.Value.String()
	if err := f.Value.Set(value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// rapidRecorder is the rapid.TB a property is checked with when it is expected to fail: it
// records the failure and the log instead of failing the test.
type rapidRecorder struct {
	t      *testing.T
	failed bool
	errors []string
	logs   []string
}

// errFailNow stops a check at FailNow, as testing.T's does.
type errFailNow struct{}

// check runs rapid.Check(rec, prop) to its end or its FailNow.
func (r *rapidRecorder) check(prop func(*rapid.T)) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(errFailNow); !ok {
				panic(p)
			}
		}
	}()
	rapid.Check(r, prop)
}

func (r *rapidRecorder) failure() string { return strings.Join(r.errors, "\n") }

func (r *rapidRecorder) Helper()      {}
func (r *rapidRecorder) Name() string { return r.t.Name() }
func (r *rapidRecorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *rapidRecorder) Log(args ...any)                   { r.logs = append(r.logs, fmt.Sprint(args...)) }
func (r *rapidRecorder) Skipf(format string, args ...any)  { r.t.Skipf(format, args...) }
func (r *rapidRecorder) Skip(args ...any)                  { r.t.Skip(args...) }
func (r *rapidRecorder) SkipNow()                          { r.t.SkipNow() }
func (r *rapidRecorder) Errorf(format string, args ...any) { r.Error(fmt.Sprintf(format, args...)) }
func (r *rapidRecorder) Error(args ...any) {
	r.errors = append(r.errors, fmt.Sprint(args...))
	r.failed = true
}
func (r *rapidRecorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }
func (r *rapidRecorder) Fatal(args ...any)                 { r.Error(args...); r.FailNow() }
func (r *rapidRecorder) FailNow()                          { r.failed = true; panic(errFailNow{}) }
func (r *rapidRecorder) Fail()                             { r.failed = true }
func (r *rapidRecorder) Failed() bool                      { return r.failed }
