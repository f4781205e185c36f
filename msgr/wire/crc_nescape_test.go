package wire

import (
	"math/rand/v2"
	"testing"
)

// TestCRC32CNoEscapeMatches checks the table-driven crc against the hardware one for every
// length up to 200 bytes and several seeds.
func TestCRC32CNoEscapeMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 200)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for n := 0; n <= len(buf); n++ {
		for _, seed := range []uint32{0, 1, 0xffffffff, r.Uint32()} {
			if got, want := crc32cNoEscape(seed, buf[:n]), CRC32C(seed, buf[:n]); got != want {
				t.Fatalf("len %d seed %#x: %#x, want %#x", n, seed, got, want)
			}
		}
	}
}
