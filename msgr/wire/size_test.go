package wire

import (
	"testing"
	"unsafe"
)

// A Message is allocated for every message sent; its size class sets how often a busy sender
// makes the collector run. Footer's field order keeps it at 160 bytes (176 with the fields in
// wire order).
func TestMessageSize(t *testing.T) {
	if got := unsafe.Sizeof(Message{}); got > 160 {
		t.Fatalf("sizeof(Message) = %d, want at most 160 (the 160-byte size class)", got)
	}
	if got := unsafe.Sizeof(Footer{}); got > 24 {
		t.Fatalf("sizeof(Footer) = %d, want at most 24", got)
	}
}
