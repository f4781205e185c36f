package simnet

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The self-check of the kept scans has teeth: a connection changed without being touched
// (here its connect attempt made due at once) keeps a stale scan, and the next refresh that
// uses it panics.
func TestCheckScansCatchesAStaleScan(t *testing.T) {
	w := newWorld(t, 1, Config{Latency: time.Millisecond})
	w.listen(w.b, testPort, 0)
	cl := w.connect(w.a, netip.AddrPortFrom(ipB, testPort))
	if r := w.net.Runnable(); r != 0 {
		t.Fatalf("%d runnable before the latency", r)
	}
	cl.c.estDue = 0 // not touched: the kept scan says the attempt is not due yet
	w.net.Clock().AdvanceTo(time.Microsecond)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "kept scan") {
			t.Fatalf("a stale scan was not caught: %v", r)
		}
	}()
	w.net.Runnable()
}
