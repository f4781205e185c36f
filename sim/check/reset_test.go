package check

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// countAll is a Counter that remembers every evaluation.
type countAll map[string]int

func (c countAll) Evaluated(name string, n int) { c[name] += n }

// checkerScript drives k through a pseudo-random history of n messages (sends on a few
// streams, connections and priorities, dispatches in and out of order, duplicates, unknown
// ids, resets, drops, orphans, mark-downs, acknowledgements) and renders everything k and its
// recorder report.
func checkerScript(k *Checker, seed uint64, n int) string {
	r := rand.New(rand.NewPCG(seed, 7))
	cov := countAll{}
	rec := k.Record(func() int64 { return 5 }, cov)
	nodes := []string{"osd.0", "osd.1", "client.0"}
	var sent []uint64
	for id := uint64(1); id <= uint64(n); id++ {
		from, to := nodes[r.IntN(3)], nodes[r.IntN(3)]
		conn := uint64(r.IntN(3))
		k.SentOn(from, to, conn, uint16(r.IntN(2)), id, r.IntN(4) != 0)
		sent = append(sent, id)
		if r.IntN(3) == 0 {
			rec.onSession(id, testAddr(r.IntN(2)))
		}
		for range r.IntN(3) {
			pick := sent[r.IntN(len(sent))]
			switch r.IntN(10) {
			case 0:
				k.Forgive(from, to)
			case 1:
				k.ForgiveConn(from, conn)
			case 2:
				k.Orphan(from, conn)
			case 3:
				k.Unorphan(from, conn)
			case 4:
				k.Dropped(pick)
			case 5:
				k.MarkedDown(to+"#1", from, r.IntN(2) == 0)
			case 6:
				k.Received(to+"#1", pick)
				k.Acked(pick, int64(id))
			case 7:
				k.Dispatched(to+"#1", pick+uint64(r.IntN(2))*1000, r.IntN(8) != 0, int64(id))
			default:
				k.Dispatched(fmt.Sprintf("%s#%d", to, 1+r.IntN(3)/2), pick, true, int64(id))
			}
		}
	}
	k.ForgiveNode("client.0")
	pending := k.PendingLossless()
	k.Finish(int64(n))
	var b strings.Builder
	s, d := k.Counts()
	rcv, ack := k.AckCounts()
	ls, la := k.LosslessCounts()
	fmt.Fprintf(&b, "counts %d %d %d %d %d %d pending %d\n", s, d, rcv, ack, ls, la, pending)
	fmt.Fprintf(&b, "violations %v\ncounts %v excused %v\n", k.Violations(), k.ViolationCounts(), k.Excused())
	fmt.Fprintf(&b, "summary\n%s", k.Summary())
	fmt.Fprintf(&b, "undispatched %v\nmissing %v\n", k.Undispatched(), k.MissingLossless(1000))
	fmt.Fprintf(&b, "fifo %v\ncoverage %v\n", rec.fifo.Ops(), map[string]int(cov))
	return b.String()
}

// A Checker after Reset reports exactly what a new one does on the same history, whatever
// history it saw before (shorter or longer: its kept blocks run out or are trimmed).
func TestCheckerResetIsNew(t *testing.T) {
	k := NewChecker()
	for round, n := range []int{40, 3000, 10, 700, 0, 300} {
		want := checkerScript(NewChecker(), uint64(round), n)
		got := checkerScript(k, uint64(round), n)
		if got != want {
			t.Fatalf("round %d (%d messages): a reset checker reports\n%s\na new one\n%s", round, n, got, want)
		}
		k.Reset()
	}
}

// testAddr is one of a few peer addresses.
func testAddr(i int) wire.EntityAddr { return wire.EntityAddr{Nonce: uint32(7 + i)} }

// Summary is what it was when fmt built it: each stream's line as the format below prints it,
// sorted by the stream's name, for names shorter and longer than the column, names one of
// which is a prefix of another, and names that are not ASCII.
func TestSummaryAsFormatted(t *testing.T) {
	k := NewChecker()
	nodes := []string{"osd.1", "osd.10", "osd.1-", "client.0", "ösd.2", "a-very-long-node-name.with.many.parts", ""}
	id := uint64(0)
	for i, from := range nodes {
		for j, to := range nodes {
			for range (i*7 + j) % 4 {
				id++
				k.Sent(from, to, id, (i+j)%2 == 0)
				if id%3 != 0 {
					k.Dispatched(to+"#1", id, true, 0)
				}
			}
			if (i+j)%5 == 0 {
				k.Forgive(from, to)
			}
		}
	}
	type named struct {
		name string
		key  streamKey
	}
	var keys []named
	for _, key := range k.keys {
		keys = append(keys, named{key.String(), key})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].name < keys[j].name })
	var want strings.Builder
	for _, nk := range keys {
		s := k.streams[nk.key]
		kind := "lossy"
		if s.lossless {
			kind = "lossless"
		}
		fmt.Fprintf(&want, "  %-28s %-8s sent %5d  dispatched %5d", nk.name, kind, len(s.sent), s.delivered)
		if lost := k.accountedLosses(s); lost > 0 {
			fmt.Fprintf(&want, "  (%d lost, accounted to resets, crashes or drops)", lost)
		}
		want.WriteString("\n")
	}
	if got := k.Summary(); got != want.String() {
		t.Fatalf("Summary:\n%s\nformatted:\n%s", got, want.String())
	}
}

// Duplicates are per receiver incarnation, whichever incarnation got the message first: a
// message dispatched to b#1 and then to b#2 is no duplicate, a second dispatch to either is.
func TestDuplicatePerReceiverIncarnation(t *testing.T) {
	for _, order := range [][]string{{"b#1", "b#2", "b#2", "b#1"}, {"b#2", "b#1", "b#1", "b#2"}, {"b#1", "b#2", "b#3", "b#2"}} {
		k := NewChecker()
		k.Sent("a", "b", 1, true)
		for _, rcv := range order {
			k.Dispatched(rcv, 1, true, 0)
		}
		want := 2
		if order[2] == "b#3" {
			want = 1
		}
		if got := violated(k)[InvDuplicate]; got != want {
			t.Errorf("dispatches to %v: %d duplicates, want %d: %v", order, got, want, k.Violations())
		}
	}
	// Excused after a mark-down without resetcheck, for the first incarnation and a later one.
	for _, rcv := range []string{"b#1", "b#2"} {
		k := NewChecker()
		k.Sent("a", "b", 1, true)
		if rcv == "b#2" {
			k.Dispatched("b#1", 1, true, 0)
		}
		k.Dispatched(rcv, 1, true, 0)
		k.MarkedDown(rcv, "a", false)
		k.Dispatched(rcv, 1, true, 0)
		if len(k.Violations()) != 0 || k.Excused()[CaseRedelivery] != 1 {
			t.Errorf("%s: redelivery after a mark-down: %v, excused %v", rcv, k.Violations(), k.Excused())
		}
		k.Dispatched(rcv, 1, true, 0)
		if violated(k)[InvDuplicate] != 1 {
			t.Errorf("%s: a second redelivery after one mark-down: %v", rcv, k.Violations())
		}
	}
}
