package msgr

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

type pqTestItem struct {
	class uint64
	prio  uint16
	seq   int
}

func (it pqTestItem) String() string { return fmt.Sprintf("%d/%d#%d", it.class, it.prio, it.seq) }

func drain(q *prioQueue[pqTestItem]) []pqTestItem {
	var out []pqTestItem
	for {
		it, ok := q.Dequeue()
		if !ok {
			return out
		}
		out = append(out, it)
	}
}

func render(items []pqTestItem) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.String()
	}
	return strings.Join(s, " ")
}

// Strict priorities go highest first; within one, connections take turns; within a
// connection, order is kept.
func TestPrioQueueStrictRoundRobin(t *testing.T) {
	q := newPrioQueue[pqTestItem](pqMaxTokensPerPriority, pqMinCost)
	add := func(class uint64, prio uint16, seq int) {
		q.EnqueueStrict(class, prio, pqTestItem{class, prio, seq})
	}
	add(1, 127, 1)
	add(1, 127, 2)
	add(1, 127, 3)
	add(2, 127, 1)
	add(2, 127, 2)
	add(3, 127, 1)
	add(5, 200, 1)
	add(4, 64, 1)
	got := render(drain(q))
	want := "5/200#1 1/127#1 2/127#1 3/127#1 1/127#2 2/127#2 1/127#3 4/64#1"
	if got != want {
		t.Fatalf("order\n got %s\nwant %s", got, want)
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after draining", q.Len())
	}
}

// A class that arrives mid-round waits for its turn in id order; removing a class keeps the
// turn with the class that had it.
func TestPrioQueueTurns(t *testing.T) {
	q := newPrioQueue[pqTestItem](pqMaxTokensPerPriority, pqMinCost)
	add := func(class uint64, seq int) { q.EnqueueStrict(class, 100, pqTestItem{class, 100, seq}) }
	add(2, 1)
	add(2, 2)
	add(4, 1)
	add(4, 2)
	first, _ := q.Dequeue() // 2#1; the turn passes to 4
	add(1, 1)               // inserted before the turn: 4 keeps it
	add(3, 1)               // inserted just before the turn: 4 keeps it
	add(5, 1)
	if removed := q.RemoveClass(5); len(removed) != 1 {
		t.Fatalf("RemoveClass(5) removed %v", removed)
	}
	got := render(append([]pqTestItem{first}, drain(q)...))
	want := "2/100#1 4/100#1 1/100#1 2/100#2 3/100#1 4/100#2"
	if got != want {
		t.Fatalf("order\n got %s\nwant %s", got, want)
	}
}

// Below the strict priorities, buckets share tokens in proportion to their priority: the lower
// one is neither starved nor served first.
func TestPrioQueueTokensShare(t *testing.T) {
	q := newPrioQueue[pqTestItem](pqMaxTokensPerPriority, pqMinCost)
	for i := range 600 {
		q.Enqueue(1, 10, 0, pqTestItem{1, 10, i})
		q.Enqueue(2, 50, 4096, pqTestItem{2, 50, i})
	}
	q.EnqueueStrict(9, 64, pqTestItem{9, 64, 0})
	out := drain(q)
	if out[0].class != 9 {
		t.Fatalf("a strict item did not go first: %v", out[0])
	}
	low := 0
	for _, it := range out[1:601] {
		if it.prio == 10 {
			low++
		}
	}
	// Equal costs (both clamped to the 64 KiB minimum): priority 10 of 60 is a sixth.
	if low < 80 || low > 120 {
		t.Fatalf("priority 10 got %d of the first 600 dequeues, want about 100", low)
	}
}

// Costs below the minimum count as the minimum and above the bucket size as the bucket size.
func TestPrioQueueCostClamp(t *testing.T) {
	q := newPrioQueue[pqTestItem](1000, 100)
	q.Enqueue(1, 5, 1, pqTestItem{})
	q.Enqueue(1, 5, 1<<40, pqTestItem{})
	sq := q.normal[0]
	if c := sq.classes[0].items[0].cost; c != 100 {
		t.Errorf("cost 1 queued as %d, want the minimum 100", c)
	}
	if c := sq.classes[0].items[1].cost; c != 1000 {
		t.Errorf("cost 2^40 queued as %d, want the maximum 1000", c)
	}
}

// Whatever the operations: every item comes out exactly once unless removed with its class,
// strict items before the others, order kept within a class and priority, and Len right.
func TestPrioQueueProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := newPrioQueue[pqTestItem](rapid.Uint64Range(1, 1<<20).Draw(t, "maxTokens"), rapid.Uint64Range(0, 1<<16).Draw(t, "minCost"))
		pending := map[pqTestItem]bool{}
		last := map[[2]uint64]int{}
		seq := 0
		for range rapid.IntRange(0, 200).Draw(t, "ops") {
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0, 1, 2:
				seq++
				it := pqTestItem{rapid.Uint64Range(0, 5).Draw(t, "class"), uint16(rapid.IntRange(64, 255).Draw(t, "prio")), seq}
				q.EnqueueStrict(it.class, it.prio, it)
				pending[it] = true
			case 3, 4, 5:
				seq++
				it := pqTestItem{rapid.Uint64Range(0, 5).Draw(t, "class"), uint16(rapid.IntRange(1, 63).Draw(t, "prio")), seq}
				q.Enqueue(it.class, it.prio, rapid.Uint64Range(0, 1<<21).Draw(t, "cost"), it)
				pending[it] = true
			case 6:
				class := rapid.Uint64Range(0, 5).Draw(t, "class")
				for _, it := range q.RemoveClass(class) {
					if it.class != class || !pending[it] {
						t.Fatalf("RemoveClass(%d) returned %v", class, it)
					}
					delete(pending, it)
				}
				for it := range pending { //lint:ordered (membership check)
					if it.class == class {
						t.Fatalf("RemoveClass(%d) left %v", class, it)
					}
				}
			default:
				it, ok := q.Dequeue()
				if !ok {
					if len(pending) > 0 {
						t.Fatalf("Dequeue empty with %d pending", len(pending))
					}
					continue
				}
				if !pending[it] {
					t.Fatalf("Dequeue returned %v, not pending", it)
				}
				delete(pending, it)
				if it.prio < 64 {
					for p := range pending { //lint:ordered (membership check)
						if p.prio >= 64 {
							t.Fatalf("%v dequeued while strict %v waits", it, p)
						}
					}
				}
				k := [2]uint64{it.class, uint64(it.prio)}
				if it.seq < last[k] {
					t.Fatalf("%v after #%d of its class and priority", it, last[k])
				}
				last[k] = it.seq
			}
			if q.Len() != len(pending) {
				t.Fatalf("Len %d, %d pending", q.Len(), len(pending))
			}
		}
		rest := drain(q)
		if len(rest) != len(pending) {
			t.Fatalf("drained %d, %d pending", len(rest), len(pending))
		}
		slices.SortFunc(rest, func(a, b pqTestItem) int { return a.seq - b.seq })
		if slices.ContainsFunc(rest, func(it pqTestItem) bool { return !pending[it] }) {
			t.Fatalf("drained items that were not pending: %v", rest)
		}
	})
}

// Once warm, bursts of items that empty the queue again (priorities and classes coming and
// going) allocate nothing: emptied priorities and class arrays are reused.
func TestPrioQueueSteadyStateAllocs(t *testing.T) {
	q := newPrioQueue[pqTestItem](pqMaxTokensPerPriority, pqMinCost)
	burst := func() {
		for i := range 6 {
			q.EnqueueStrict(uint64(i%3+1), 196, pqTestItem{seq: i})
			q.Enqueue(uint64(i%2+1), 63, 4096, pqTestItem{seq: i})
		}
		for {
			if _, ok := q.Dequeue(); !ok {
				break
			}
		}
	}
	burst()
	if n := testing.AllocsPerRun(100, burst); n != 0 {
		t.Fatalf("%.1f allocations per burst, want 0", n)
	}
}
