package msgr

import "testing"

// TestClearFewZeroes checks that clearFew drops every reference, on both sides of clearByOne
// (one by one, and through clear): a flush's pend array is reused, and a reference left in it
// would keep a sent message (and the application's sections) from the collector.
func TestClearFewZeroes(t *testing.T) {
	for n := 0; n <= clearByOne+2; n++ {
		ms := make([]*Message, n, n+1)
		for i := range ms {
			ms[i] = new(Message)
		}
		spare := new(Message)
		ms = append(ms, spare)[:n] // beyond len: not clearFew's to touch
		clearFew(ms)
		for i, m := range ms {
			if m != nil {
				t.Fatalf("n=%d: ms[%d] still set", n, i)
			}
		}
		if ms[:n+1][n] != spare {
			t.Fatalf("n=%d: clearFew wrote past len(ms)", n)
		}
	}
}
