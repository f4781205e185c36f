package harness

import (
	"reflect"
	"testing"

	"github.com/msgrsim/msgrsim/msgr"
)

// Release clears the run it recycles: nothing is left of it but empty maps, slices with
// cleared arrays, and unsettledFn (bound to the run itself). A field added later and not
// cleared fails this test; the next New takes the run and finds it empty.
func TestReleasedRunIsCleared(t *testing.T) {
	r, _ := newRun(3)
	c := &msgr.Connection{}
	r.Opened(c)
	r.Opened(c)
	r.excuse[c] = []bool{true}
	r.incs[1<<40] = incarnation{inc: 2}
	r.incDense = append(r.incDense, incSlot{}, incSlot{})
	r.incDense[1].seen = true
	r.conns = append(r.conns, c)
	r.NewSockets()
	r.Unsettled(func(func(*msgr.Messenger) bool) {})
	r.NextID()
	r.Drive(&phases{r: r, job: func() {}})
	if r.Stats.Reconnects != 1 || r.Phase != PhaseDone {
		t.Fatalf("the run did not run: %+v, phase %s", r.Stats, r.Phase)
	}
	r.Release()
	v := reflect.ValueOf(r).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch name {
		case "unsettledFn":
		case "opened", "incs", "excuse":
			if f.Len() != 0 {
				t.Errorf("%s: %d entries left", name, f.Len())
			}
		case "sockets", "conns", "incDense":
			all := f.Slice(0, f.Cap())
			for k := range all.Len() {
				if f.Len() != 0 || !all.Index(k).IsZero() {
					t.Errorf("%s: not cleared (length %d, element %d %v)", name, f.Len(), k, all.Index(k))
					break
				}
			}
		default:
			if !f.IsZero() {
				t.Errorf("%s is not cleared", name)
			}
		}
	}
	again, _ := newRun(4)
	defer again.Release()
	if again != r {
		t.Skip("the released run was taken by another run of the process")
	}
	if len(again.opened) != 0 || !reflect.ValueOf(again.Stats).IsZero() || again.nextID != 0 || again.Cfg.Seed != 4 {
		t.Errorf("the recycled run is not a new one: %d opened, %+v, next id %d", len(again.opened), again.Stats, again.nextID)
	}
}
