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
	if r.Chance(Ratio{Num: 0, Den: 5}) {
		t.Fatal("0/5 fired")
	}
	if !r.Chance(Ratio{Num: 5, Den: 5}) {
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

// drawAll exercises a family the way a simulation does: a root, forks, interleaved draws.
func drawAll(root *Rand) []uint64 {
	a, b := root.Fork(), root.Fork()
	var out []uint64
	for i := 0; i < 50; i++ {
		out = append(out, a.Uint64N(1000), uint64(b.IntN(7)), root.Uint64())
		if i%10 == 0 {
			c := a.Fork()
			out = append(out, uint64(c.Range(5, 9)))
		}
	}
	return out
}

// A recorded run's tape, replayed, gives the same values in the same order, forks included.
func TestTapeReplaysRecordedRun(t *testing.T) {
	rec, log := NewRecorded(99)
	want := drawAll(rec)
	seeded := drawAll(NewSeeded(99))
	for i := range want {
		if want[i] != seeded[i] {
			t.Fatalf("recording changed the draws: value %d is %d, seeded %d", i, want[i], seeded[i])
		}
	}
	tape := append([]uint64(nil), log.Words()...)
	r, used := NewTaped(tape)
	got := drawAll(r)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replay differs at value %d: %d, recorded %d", i, got[i], want[i])
		}
	}
	if used.Len() != len(tape) {
		t.Fatalf("replay read %d words of a %d-word tape", used.Len(), len(tape))
	}
}

// Past the end a tape reads zeros, and zero is the tamest decision.
func TestTapeZerosAreTame(t *testing.T) {
	r, log := NewTaped([]uint64{^uint64(0)})
	if v := r.IntN(10); v != 9 {
		t.Fatalf("word max -> IntN(10) = %d", v)
	}
	if r.Chance(Percent(99)) || r.Bool() || r.Range(3, 9) != 3 || r.Uint64N(5) != 0 {
		t.Fatal("zero words did not give the lowest / false decisions")
	}
	if log.Len() != 5 {
		t.Fatalf("log has %d words, want 5", log.Len())
	}
	f, _ := NewFuzzed([]byte{0xff, 0xff, 0x80})
	if v := f.IntN(100); v != 99 {
		t.Fatalf("fuzz bytes ff ff -> IntN(100) = %d", v)
	}
	if v := f.IntN(100); v != 0 {
		t.Fatalf("a lone trailing byte is past the end: IntN(100) = %d", v)
	}
}

func TestReaderIsDeterministic(t *testing.T) {
	a, b := make([]byte, 13), make([]byte, 13)
	Reader{NewSeeded(5)}.Read(a)
	Reader{NewSeeded(5)}.Read(b)
	if string(a) != string(b) {
		t.Fatalf("%x != %x", a, b)
	}
	r := NewSeeded(5)
	v := r.Uint64()
	if a[0] != byte(v) || a[7] != byte(v>>56) {
		t.Fatalf("%x does not start with %016x little-endian", a, v)
	}
}

// A seeded fork is the stream NewSeeded makes from the word it takes from its parent, forks
// of forks too, however many forks one Rand makes (its block of forks fills and another is
// made); a taped fork reads the family's one tape.
func TestForkStreams(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		parent, ref := NewSeeded(seed), NewSeeded(seed)
		for i := range 40 {
			child := parent.Fork()
			want := NewSeeded(ref.Uint64())
			if i%5 == 0 {
				grand, wantGrand := child.Fork(), NewSeeded(want.Uint64())
				for range 10 {
					if g, w := grand.Uint64(), wantGrand.Uint64(); g != w {
						t.Fatalf("seed %d fork %d: a fork of the fork draws %x, want %x", seed, i, g, w)
					}
				}
			}
			for range 20 {
				if g, w := child.Uint64(), want.Uint64(); g != w {
					t.Fatalf("seed %d fork %d: draws %x, want %x", seed, i, g, w)
				}
			}
		}
		if parent.Draws() != 40 {
			t.Fatalf("seed %d: 40 forks took %d words from the parent", seed, parent.Draws())
		}
	}
	root, _ := NewTaped([]uint64{5, 6, 7, 8, 9, 10})
	var forks []*Rand
	for range 20 {
		forks = append(forks, root.Fork())
	}
	for i, want := range []uint64{5, 6, 7, 8, 9, 10, 0} {
		if got := forks[(i*7)%20].Uint64(); got != want {
			t.Fatalf("taped fork: word %d is %d, want %d", i, got, want)
		}
	}
}
