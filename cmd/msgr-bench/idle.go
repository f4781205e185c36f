//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio/epoll"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// The idle subcommand measures what an open but idle connection costs: both of its ends, in
// one process, after a garbage collection. Every connection first carries a burst of idleBurst
// bytes, so that buffers are touched (resident) as they are on a connection that was used.
// msgr: one client messenger with N sessions to one server (lossy client, stateless server:
// Ceph's client → OSD sessions). stdlib: the goroutines and buffers the stdlib contender has
// per connection (a sender waiting for work, an ACK reader, the server's reader).

// idleBurst is what each connection carries before it goes idle: 16 messages of 4 KiB.
const (
	idleBurstMsgs = 16
	idleBurstSize = 4096
)

type idleReport struct {
	Contender     string  `json:"contender"`
	ReadBuffer    int     `json:"read_buffer"`
	Conns         int     `json:"conns"`
	GoBytesPer    float64 `json:"go_bytes_per_conn"` // heap in use + goroutine stacks
	RSSBytesPer   float64 `json:"rss_bytes_per_conn"`
	GoroutinesPer float64 `json:"goroutines_per_conn"`
	// MarginalGoBytes is (memory with 2N connections − memory with N) / N: the cost of one
	// more connection, without what a messenger holds whatever its number of connections
	// (its free lists of released messages and buffers, bounded in size).
	MarginalGoBytes float64 `json:"marginal_go_bytes_per_conn"`
}

// measureIdle runs fn at n and 2n connections: the report at n, with the marginal cost.
func measureIdle(n int, fn func(int) (idleReport, error)) (idleReport, error) {
	one, err := fn(n)
	if err != nil {
		return one, err
	}
	two, err := fn(2 * n)
	if err != nil {
		return one, err
	}
	one.MarginalGoBytes = (two.GoBytesPer*float64(2*n) - one.GoBytesPer*float64(n)) / float64(n)
	return one, nil
}

type memPoint struct {
	goBytes, rss uint64
	goroutines   int
}

// readMem collects garbage and returns freed memory to the OS first, so that memory freed by
// an earlier measurement does not leave the resident set during this one.
func readMem() memPoint {
	debug.FreeOSMemory()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memPoint{goBytes: ms.HeapInuse + ms.StackInuse, rss: rssBytes(), goroutines: runtime.NumGoroutine()}
}

// rssBytes is the resident set size from /proc/self/statm.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func perConn(name string, buf, n int, before, after memPoint) idleReport {
	d := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return idleReport{Contender: name, ReadBuffer: buf, Conns: n,
		GoBytesPer: d(after.goBytes, before.goBytes), RSSBytesPer: d(after.rss, before.rss),
		GoroutinesPer: float64(after.goroutines-before.goroutines) / float64(n)}
}

// idleMsgr opens n idle msgr sessions and reports their cost.
func idleMsgr(n, prefetch int) (idleReport, error) {
	rt := &event.GoRuntime{}
	stack := epoll.New(epoll.Options{})
	rnd := detrand.NewSeeded(11)
	var accepted atomic.Int64
	srv, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityOSD, 0), Stack: stack, Runtime: rt,
		Rand: rnd.Fork(), Workers: 2, PrefetchSize: prefetch})
	if err != nil {
		return idleReport{}, err
	}
	srv.SetPolicy(wire.EntityClient, proto.StatelessServer(0))
	if err := srv.Bind(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		return idleReport{}, err
	}
	cli, err := msgr.New(msgr.Config{Name: wire.NewName(wire.EntityClient, 4100), Stack: stack, Runtime: rt,
		Rand: rnd.Fork(), Workers: 2, PrefetchSize: prefetch})
	if err != nil {
		return idleReport{}, err
	}
	cli.SetPolicy(wire.EntityOSD, proto.LossyClient(0))
	for _, m := range []*msgr.Messenger{srv, cli} {
		if err := m.Start(); err != nil {
			return idleReport{}, err
		}
	}
	srv.AddDispatcherTail(&countingDispatcher{n: &accepted})
	cli.AddDispatcherTail(&countingDispatcher{})
	defer func() {
		srv.Shutdown()
		cli.Shutdown()
		srv.Wait()
		cli.Wait()
		rt.Wait()
	}()
	before := readMem()
	payload := make([]byte, idleBurstSize)
	for range n {
		c, err := cli.ConnectToAnon(wire.EntityOSD, srv.MyAddr())
		if err != nil {
			return idleReport{}, err
		}
		for range idleBurstMsgs {
			m := wire.NewMessage(wire.MsgPing, nil)
			m.Data = payload
			if err := c.SendMessage(m); err != nil {
				return idleReport{}, err
			}
		}
	}
	want := int64(n * idleBurstMsgs)
	if err := waitUntil(func() bool { return accepted.Load() == want }); err != nil {
		return idleReport{}, fmt.Errorf("msgr: %d of %d messages arrived: %w", accepted.Load(), want, err)
	}
	// Let the last writes settle and the connections give their buffers back: an idle
	// connection does so once its center ran without it for 100-200 ms.
	time.Sleep(500 * time.Millisecond)
	return perConn("msgr", prefetch, n, before, readMem()), nil
}

// countingDispatcher counts (and releases) the messages it is given.
type countingDispatcher struct {
	msgr.NopDispatcher
	n *atomic.Int64
}

func (d *countingDispatcher) CanFastDispatchAny() bool           { return true }
func (d *countingDispatcher) CanFastDispatch(*msgr.Message) bool { return true }
func (d *countingDispatcher) FastDispatch(c *msgr.Connection, m *msgr.Message) {
	c.Messenger().Release(m)
	if d.n != nil {
		d.n.Add(1)
	}
}

// idleStdlib opens n connections with the stdlib contender's goroutines and buffers.
func idleStdlib(n, bufSize int) (idleReport, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return idleReport{}, err
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	quit := make(chan struct{})
	defer func() {
		close(quit)
		for _, c := range conns {
			_ = c.Close()
		}
		_ = ln.Close()
		wg.Wait()
	}()
	var received atomic.Int64
	burst := make([]byte, idleBurstMsgs*idleBurstSize)
	reader := func(c net.Conn, size, burst int) {
		defer wg.Done()
		br := bufio.NewReaderSize(c, size)
		if _, err := br.Discard(burst); err == nil {
			received.Add(1)
		}
		_, _ = br.ReadByte() // blocks: the connection is idle
	}

	before := readMem()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return idleReport{}, err
		}
		s, err := ln.Accept()
		if err != nil {
			return idleReport{}, err
		}
		conns = append(conns, c, s)
		wg.Add(3)
		go reader(s, bufSize, len(burst)) // the server's reader
		go reader(c, 4096, 0)             // the client's ACK reader
		go func() {                       // the client's sender, waiting for messages to send
			defer wg.Done()
			<-quit
		}()
		if _, err := c.Write(burst); err != nil {
			return idleReport{}, err
		}
	}
	if err := waitUntil(func() bool { return received.Load() == int64(2*n) }); err != nil {
		return idleReport{}, fmt.Errorf("stdlib: bursts not received: %w", err)
	}
	time.Sleep(200 * time.Millisecond)
	return perConn("stdlib", bufSize, n, before, readMem()), nil
}

func waitUntil(cond func() bool) error {
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func idleCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	conns := fs.Int("conns", 1024, "idle connections")
	asJSON := fs.Bool("json", false, "print the results as JSON on the last line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *conns < 1 {
		fmt.Fprintln(stderr, "msgr-bench idle: -conns must be positive")
		return 2
	}
	var out []idleReport
	for _, size := range []int{readBufSize, 4096} {
		s, err := measureIdle(*conns, func(n int) (idleReport, error) { return idleStdlib(n, size) })
		if err != nil {
			fmt.Fprintln(stderr, "msgr-bench idle: stdlib:", err)
			return 1
		}
		m, err := measureIdle(*conns, func(n int) (idleReport, error) { return idleMsgr(n, size) })
		if err != nil {
			fmt.Fprintln(stderr, "msgr-bench idle:", err)
			return 1
		}
		out = append(out, s, m)
	}
	fmt.Fprintf(stdout, "%-8s %8s %6s %14s %14s %16s %11s\n", "", "readbuf", "conns", "go bytes/conn", "rss bytes/conn", "marginal go/conn", "goroutines")
	for _, r := range out {
		fmt.Fprintf(stdout, "%-8s %8d %6d %14.0f %14.0f %16.0f %11.2f\n", r.Contender, r.ReadBuffer, r.Conns,
			r.GoBytesPer, r.RSSBytesPer, r.MarginalGoBytes, r.GoroutinesPer)
	}
	for i := 0; i+1 < len(out); i += 2 {
		fmt.Fprintf(stdout, "ratio msgr/stdlib at a %d-byte read buffer: go bytes %.3f, rss %.3f, marginal %.3f\n",
			out[i].ReadBuffer, out[i+1].GoBytesPer/out[i].GoBytesPer, out[i+1].RSSBytesPer/out[i].RSSBytesPer,
			out[i+1].MarginalGoBytes/out[i].MarginalGoBytes)
	}
	if *asJSON {
		b, err := json.Marshal(struct {
			Idle []idleReport `json:"idle"`
		}{out})
		if err != nil {
			return 1
		}
		fmt.Fprintln(stdout, string(b))
	}
	return 0
}
