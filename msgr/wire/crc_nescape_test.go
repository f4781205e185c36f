package wire

import (
	"hash/crc32"
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

// TestCRC32CHardwareMatches checks the assembly crc (where the CPU has it) and crc32cSmall
// against hash/crc32's Castagnoli on random inputs of random lengths, seeds and alignments.
// Ceph's crc has no inversion, so hash/crc32 is given and returns complemented registers.
func TestCRC32CHardwareMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tab := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 4096+8)
	for i := 0; i < 20000; i++ {
		n := r.IntN(300)
		if i%10 == 0 {
			n = r.IntN(4096)
		}
		off := r.IntN(8)
		p := buf[off : off+n]
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		seed := r.Uint32()
		want := ^crc32.Update(^seed, tab, p)
		if got := crc32cSmall(seed, p); got != want {
			t.Fatalf("crc32cSmall len %d off %d seed %#x: %#x, want %#x", n, off, seed, got, want)
		}
		if hasCRC32 {
			if got := crc32cHW(seed, p); got != want {
				t.Fatalf("crc32cHW len %d off %d seed %#x: %#x, want %#x", n, off, seed, got, want)
			}
		}
		if got := crc32cNoEscape(seed, p); got != want {
			t.Fatalf("crc32cNoEscape len %d off %d seed %#x: %#x, want %#x", n, off, seed, got, want)
		}
	}
	if !hasCRC32 {
		t.Log("no CRC32 instruction here: only the fallback was compared")
	}
}

// TestCRC32CHeaderMatches checks the unrolled header crc against hash/crc32's Castagnoli on
// random headers at every alignment (Encode and Decode use it; a wrong one would make every
// header's crc wrong on both sides alike, which a round trip would not catch).
func TestCRC32CHeaderMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	tab := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, HeaderCRCLen+8)
	for i := 0; i < 2000; i++ {
		off := i % 8
		p := buf[off : off+HeaderCRCLen]
		for j := range p {
			p[j] = byte(r.Uint32())
		}
		want := ^crc32.Update(^uint32(0), tab, p)
		if got := crc32cHeader((*[HeaderCRCLen]byte)(p)); got != want {
			t.Fatalf("off %d: %#x, want %#x", off, got, want)
		}
	}
}

// BenchmarkCRC32CSmall compares, on small inputs (a header's 49 bytes, a typical front), the
// assembly crc, the table-driven fallback and hash/crc32.
func BenchmarkCRC32CSmall(b *testing.B) {
	for _, n := range []int{HeaderCRCLen, 128, 256, 1024} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i)
		}
		b.Run("hw/"+sizeName(n), func(b *testing.B) {
			if !hasCRC32 {
				b.Skip("no CRC32 instruction")
			}
			for b.Loop() {
				crc32cHW(0, p)
			}
		})
		b.Run("table/"+sizeName(n), func(b *testing.B) {
			for b.Loop() {
				crc32cNoEscape(0, p)
			}
		})
		b.Run("hashcrc32/"+sizeName(n), func(b *testing.B) {
			for b.Loop() {
				CRC32C(0, p)
			}
		})
	}
}

// TestCRC32CFoldMatches checks the carry-less multiplication crc (where the CPU has it)
// against hash/crc32's Castagnoli: every length from 256 to 1300 bytes (the state alone, each
// tail length, several rounds), then random lengths up to 300 KiB, at random seeds and
// alignments, and CRC32C, which dispatches to it, on inputs around foldMin.
func TestCRC32CFoldMatches(t *testing.T) {
	if !hasFold {
		t.Skip("no AVX-512 VPCLMULQDQ here")
	}
	r := rand.New(rand.NewPCG(5, 6))
	tab := crc32.MakeTable(crc32.Castagnoli)
	buf := make([]byte, 300<<10+64)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	check := func(n int) {
		off := r.IntN(64)
		p := buf[off : off+n]
		seed := r.Uint32()
		if n%3 == 0 {
			seed = 0
		}
		want := ^crc32.Update(^seed, tab, p)
		if got := crc32cFold(seed, p, &foldK); got != want {
			t.Fatalf("crc32cFold len %d off %d seed %#x: %#x, want %#x", n, off, seed, got, want)
		}
		if got := CRC32C(seed, p); got != want {
			t.Fatalf("CRC32C len %d off %d seed %#x: %#x, want %#x", n, off, seed, got, want)
		}
	}
	for n := 256; n <= 1300; n++ {
		check(n)
	}
	for range 2000 {
		check(256 + r.IntN(len(buf)-256-64))
	}
	for n := foldMin - 20; n <= foldMin+20; n++ {
		check(n)
	}
	// A crc continued chunk by chunk, as a writer and a reader compute it, is the whole one.
	p := buf[:200<<10]
	crc := uint32(0)
	for off := 0; off < len(p); {
		k := min(len(p)-off, r.IntN(10000))
		crc = CRC32C(crc, p[off:off+k])
		off += k
	}
	if want := ^crc32.Update(0xffffffff, tab, p); crc != want {
		t.Fatalf("chunked CRC32C %#x, want %#x", crc, want)
	}
}
