package detrand

import "testing"

func TestSeededIsDeterministic(t *testing.T) {
	a, b := NewSeeded(42), NewSeeded(42)
	for i := 0; i < 1000; i++ {
		if x, y := a.Uint64(), b.Uint64(); x != y {
			t.Fatalf("draw %d: %x != %x", i, x, y)
		}
	}
	c := NewSeeded(43)
	same := 0
	a = NewSeeded(42)
	for i := 0; i < 100; i++ {
		if a.Uint64() == c.Uint64() {
			same++
		}
	}
	if same > 1 {
		t.Fatalf("seeds 42 and 43 agree on %d of 100 draws", same)
	}
}

func TestBounds(t *testing.T) {
	r := NewSeeded(1)
	seen := make([]int, 7)
	for i := 0; i < 7000; i++ {
		v := r.Range(3, 9)
		if v < 3 || v > 9 {
			t.Fatalf("Range(3,9) = %d", v)
		}
		seen[v-3]++
	}
	for i, n := range seen {
		if n < 800 || n > 1200 {
			t.Fatalf("value %d drawn %d times of 7000; distribution is off", i+3, n)
		}
	}
}

func TestChance(t *testing.T) {
	r := NewSeeded(7)
	if r.Chance(Ratio{0, 5}) {
		t.Fatal("0/5 fired")
	}
	if !r.Chance(Ratio{5, 5}) {
		t.Fatal("5/5 did not fire")
	}
	hits := 0
	for i := 0; i < 10000; i++ {
		if r.Chance(OneIn(10)) {
			hits++
		}
	}
	if hits < 850 || hits > 1150 {
		t.Fatalf("1/10 fired %d times of 10000", hits)
	}
}

type fixed []uint64

func (f *fixed) Uint64() uint64 {
	v := (*f)[0]
	*f = (*f)[1:]
	return v
}

func TestCustomSourceDrivesDecisions(t *testing.T) {
	src := fixed{0, ^uint64(0), 1 << 63}
	r := New(&src)
	if v := r.IntN(10); v != 0 {
		t.Fatalf("word 0 -> IntN(10) = %d, want 0", v)
	}
	if v := r.IntN(10); v != 9 {
		t.Fatalf("word max -> IntN(10) = %d, want 9", v)
	}
	if v := r.IntN(10); v != 5 {
		t.Fatalf("word 2^63 -> IntN(10) = %d, want 5", v)
	}
	if r.Draws() != 3 {
		t.Fatalf("Draws = %d", r.Draws())
	}
}
