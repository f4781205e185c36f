// Package detrand is the project's deterministic random source. Every random choice of the
// simulator, the fault injector and the messenger (nonces, backoff jitter) draws from a *Rand,
// never from the global math/rand or crypto/rand, so one seed reproduces a run exactly.
//
// A Rand reads 64-bit words from a Source. NewSeeded uses PCG (math/rand/v2); a fuzzer can plug
// in a Source that reads its input bytes instead (a decision tape), so coverage feedback steers
// the same decisions the seed would have made.
package detrand

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
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
}

// New returns a Rand reading from src.
func New(src Source) *Rand { return &Rand{src: src} }

// NewSeeded returns a Rand on a PCG generator seeded from seed alone.
func NewSeeded(seed uint64) *Rand {
	return New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// Draws counts the words taken from the source so far (useful in traces).
func (r *Rand) Draws() uint64 { return r.draws }

// Uint64 returns a uniformly distributed 64-bit value.
func (r *Rand) Uint64() uint64 {
	r.draws++
	return r.src.Uint64()
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

// Chance returns true with probability p.
func (r *Rand) Chance(p Ratio) bool {
	if p.Num == 0 {
		return false
	}
	if p.Num >= p.Den {
		return true
	}
	return r.Uint64N(p.Den) < p.Num
}

// Fork returns an independent Rand seeded from this one, for a component that must not shift
// the draws of others when it draws more or fewer values.
func (r *Rand) Fork() *Rand { return NewSeeded(r.Uint64()) }

// Ratio is a probability Num/Den, kept as integers so no float enters a decision.
type Ratio struct {
	Num, Den uint64
}

// OneIn returns the probability 1/n (0 when n is 0).
func OneIn(n uint64) Ratio {
	if n == 0 {
		return Ratio{0, 1}
	}
	return Ratio{1, n}
}

// Percent returns the probability p/100.
func Percent(p uint64) Ratio { return Ratio{p, 100} }

// String renders the ratio as "num/den".
func (p Ratio) String() string { return fmt.Sprintf("%d/%d", p.Num, p.Den) }
