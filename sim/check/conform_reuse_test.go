package check

import (
	"reflect"
	"testing"
)

// A monitor built on a Reset checker holds nothing of the previous run: every map and slice
// of it is empty, whatever the used monitor had gathered (TestSessionsReusedAsNew runs the
// rule tests on such a monitor; a map left full shows there only if a rule happens to read
// the stale entry, so the emptiness is checked here field by field).
func TestReusedSessionsStartEmpty(t *testing.T) {
	k := usedChecker(t)
	old := k.spare.sessions
	if old == nil {
		t.Fatal("the Reset checker kept no monitor to reuse")
	}
	s := NewSessions(k, func() int64 { return 0 }, nil)
	if s != old {
		t.Fatal("the monitor was not reused")
	}
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Map, reflect.Slice:
			if f.Len() != 0 {
				t.Errorf("field %s holds %d entries of the previous run", v.Type().Field(i).Name, f.Len())
			}
		}
	}
	if s.tally != (tally{}) {
		t.Errorf("tally carries the previous run's counts: %+v", s.tally)
	}
}
