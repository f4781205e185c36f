// Package detrand is the project's deterministic random source. Every random choice of the
// simulator, the fault injector and the messenger (nonces, backoff jitter) draws from a *Rand,
// never from the global math/rand or crypto/rand, so one seed reproduces a run exactly.
//
// A Rand reads 64-bit words from a Source; every decision takes exactly one word. A family of
// Rands (a root and everything forked from it) can be driven three ways:
//
//   - seeded: NewSeeded uses PCG (math/rand/v2), and Fork gives each component its own
//     stream, so one component drawing more does not shift the others;
//   - recorded: NewRecorded is a seeded family that also logs every word any member draws, in
//     the order they are drawn — the run's decision tape;
//   - taped: NewTaped replays a tape (or NewFuzzed a fuzzer's bytes). The whole family reads
//     one shared cursor, so a single-goroutine run that drew the tape re-draws the same words
//     in the same order and reproduces the run; past the end of the tape every word is 0.
//
// Word 0 is the tamest decision everywhere: Uint64N, IntN and Range give their lowest value,
// Bool and Chance give false. A tape of zeros is the calmest possible run, and shrinking a
// tape toward zeros removes faults, delays and fragmentation.
package detrand

import (
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/msgrsim/msgrsim/msgr/netio"
)

// Source yields 64-bit words. It is not safe for concurrent use.
type Source interface {
	Uint64() uint64
}

// Rand draws typed random values from a Source. It is not safe for concurrent use: give each
// goroutine its own (see Fork).
type Rand struct {
	src   Source
	draws uint64
	log   *Log // recorded and taped families: where every drawn word goes
	taped bool // the family shares one tape cursor: Fork shares src
	// forks is the block this Rand's forks are carved from (a run forks a few dozen: one
	// allocation per block instead of two per fork). Each Rand has its own, so Rands of one
	// family used by different goroutines share nothing.
	forks []forked
}

// forked is a forked Rand and the PCG state of its seeded stream.
type forked struct {
	Rand
	pcg rand.PCG
}

// fork is a new zero forked from r's block.
func (r *Rand) fork() *forked {
	if len(r.forks) == cap(r.forks) {
		r.forks = make([]forked, 0, min(16, max(4, 2*cap(r.forks))))
	}
	r.forks = append(r.forks, forked{})
	return &r.forks[len(r.forks)-1]
}

// New returns a Rand reading from src.
func New(src Source) *Rand { return &Rand{src: src} }

// NewSeeded returns a Rand on a PCG generator seeded from seed alone.
func NewSeeded(seed uint64) *Rand {
	return New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Log is the sequence of words a family drew, in order: a decision tape.
type Log struct{ words []uint64 }

// Words returns the words drawn so far (the log's own slice: do not modify it).
func (l *Log) Words() []uint64 { return l.words }

// Len is the number of words drawn so far.
func (l *Log) Len() int { return len(l.words) }

// NewRecorded returns a seeded Rand (the same draws as NewSeeded(seed), forks included) whose
// family logs every word it draws.
func NewRecorded(seed uint64) (*Rand, *Log) {
	r := NewSeeded(seed)
	r.log = &Log{}
	return r, r.log
}

// NewTaped returns a Rand whose family reads words from tape in order, then zeros; the log
// records what was read (zeros included), i.e. the part of the tape the run used.
func NewTaped(tape []uint64) (*Rand, *Log) {
	r := &Rand{src: &tapeSource{words: tape}, log: &Log{}, taped: true}
	return r, r.log
}

// NewFuzzed is NewTaped over a fuzzer's input: each word is made of the next two bytes (the
// high 16 bits, repeated downward), so a byte mutation moves one decision by a bounded step.
// Past the end of data every word is 0.
func NewFuzzed(data []byte) (*Rand, *Log) {
	// Two bytes per decision: the log is sized for the input's decisions and some zeros past
	// its end (a fuzzed run that outlives its input draws zeros), so it rarely grows.
	log := &Log{words: make([]uint64, 0, len(data)/2+512)}
	r := &Rand{src: &fuzzSource{data: data}, log: log, taped: true}
	return r, r.log
}

// NewFuzzedUnlogged is NewFuzzed without the log: the same draws, for a run whose tape is not
// kept.
func NewFuzzedUnlogged(data []byte) *Rand {
	return &Rand{src: &fuzzSource{data: data}, taped: true}
}

type tapeSource struct {
	words []uint64
	next  int
}

func (t *tapeSource) Uint64() uint64 {
	if t.next >= len(t.words) {
		return 0
	}
	t.next++
	return t.words[t.next-1]
}

type fuzzSource struct {
	data []byte
	next int
}

func (f *fuzzSource) Uint64() uint64 {
	if f.next+2 > len(f.data) {
		f.next = len(f.data)
		return 0
	}
	hi := uint64(f.data[f.next])<<8 | uint64(f.data[f.next+1])
	f.next += 2
	return hi<<48 | hi<<32 | hi<<16 | hi
}

// Draws counts the words taken from the source so far (useful in traces).
func (r *Rand) Draws() uint64 { return r.draws }

// Uint64 returns a uniformly distributed 64-bit value.
func (r *Rand) Uint64() uint64 {
	r.draws++
	v := r.src.Uint64()
	if r.log != nil {
		r.log.words = append(r.log.words, v)
	}
	return v
}

// Uint32 returns a uniformly distributed 32-bit value.
func (r *Rand) Uint32() uint32 { return uint32(r.Uint64() >> 32) }

// Uint64N returns a value in [0, n). It panics if n is 0.
func (r *Rand) Uint64N(n uint64) uint64 {
	if n == 0 {
		panic("detrand: Uint64N(0)")
	}
	// Lemire's multiply-shift without the rejection loop: a tape-driven source must consume a
	// fixed number of words per decision, and the bias (n/2^64) is irrelevant at our sizes.
	hi, _ := bits.Mul64(r.Uint64(), n)
	return hi
}

// IntN returns a value in [0, n). It panics if n <= 0.
func (r *Rand) IntN(n int) int {
	if n <= 0 {
		panic(fmt.Sprintf("detrand: IntN(%d)", n))
	}
	return int(r.Uint64N(uint64(n)))
}

// Range returns a value in [lo, hi], inclusive. It panics if hi < lo.
func (r *Rand) Range(lo, hi int) int {
	if hi < lo {
		panic(fmt.Sprintf("detrand: Range(%d, %d)", lo, hi))
	}
	return lo + r.IntN(hi-lo+1)
}

// Bool returns true or false with equal probability.
func (r *Rand) Bool() bool { return r.Uint64()&1 == 1 }

// Chance returns true with probability p (false on word 0). It draws nothing when p is 0 or 1.
func (r *Rand) Chance(p Ratio) bool {
	if p.Num == 0 {
		return false
	}
	if p.Num >= p.Den {
		return true
	}
	return r.Uint64N(p.Den) >= p.Den-p.Num
}

// Fork returns a Rand for a component: in a seeded family an independent stream seeded from
// this one (so the component does not shift the draws of others when it draws more or fewer
// values); in a taped family, another reader of the same tape. The word a seeded fork takes
// from its parent is not a decision: a recorded family does not log it, and a taped fork
// takes no word.
func (r *Rand) Fork() *Rand {
	c := r.fork()
	if r.taped {
		c.src, c.log, c.taped = r.src, r.log, true
		return &c.Rand
	}
	r.draws++
	seed := r.src.Uint64()
	c.pcg.Seed(seed, seed^0x9e3779b97f4a7c15) // NewSeeded(seed)'s stream
	c.src, c.log = &c.pcg, r.log
	return &c.Rand
}

// Ratio is a probability Num/Den, kept as integers so no float enters a decision. It is
// netio.Ratio, so that the public API that takes one (msgr.InjectDelay) does not expose this
// internal package.
type Ratio = netio.Ratio

// OneIn returns the probability 1/n (0 when n is 0).
func OneIn(n uint64) Ratio {
	if n == 0 {
		return Ratio{Num: 0, Den: 1}
	}
	return Ratio{Num: 1, Den: n}
}

// Percent returns the probability p/100.
func Percent(p uint64) Ratio { return Ratio{Num: p, Den: 100} }

// Reader is an io.Reader over a Rand, eight bytes per draw (little-endian), for what wants
// randomness as bytes (keys, nonces, challenges) and must stay deterministic.
type Reader struct{ R *Rand }

// Read fills p from the Rand; it never fails.
func (d Reader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := d.R.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p), nil
}
