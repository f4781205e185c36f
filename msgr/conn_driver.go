package msgr

import (
	"errors"

	"github.com/msgrsim/msgrsim/msgr/event"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/proto"
)

// Per-event work caps, so one busy connection does not starve the others on its center.
const (
	maxReadsPerEvent  = 16
	maxWritesPerEvent = 64
)

// overlapBytes is how much input readIn reads, with Config.ReplyWhileReading, before it
// pauses to have the replies to what it read written (one read with msgr-bench's 64 KiB
// PrefetchSize; with the default 4 KiB, the cap of reads per event ends a pass there anyway).
const overlapBytes = 64 << 10

// run executes fn on the owning center with the connection locked, brings socket interest and
// timers in line with the core, then (unlocked) performs the deliveries and events fn caused.
//
// When fn delivered messages, writing is deferred until the dispatchers have seen them, as
// Ceph's ProtocolV1 defers it (need_dispatch_writer: the write handler runs as an external
// event after the read): the ACK for what was read and whatever a fast dispatcher sent in
// reply then leave in one writev, and the peer is woken once, not twice.
func (c *Connection) run(fn func()) {
	if lockOrderCheck { // (mu's mutex directly otherwise, inlined: see SendMessage)
		c.mu.Lock()
	} else {
		c.mu.mu.Lock()
	}
	c.inCenter = true
	if c.p != nil {
		fn()
		c.sync()
	}
	c.inCenter = false
	// The section's upcalls are carried out from ups, unlocked, while the core may collect
	// more into c.upcalls (the spare array). A section without upcalls (about half of a
	// ping-pong's: each flush's) leaves both arrays where they are: the swap and its return
	// were ~20 instructions of write barriers and stores per section.
	var ups []upcall
	if len(c.upcalls) > 0 {
		ups = c.upcalls
		c.upcalls, c.spareUpcalls = c.spareUpcalls, nil
	}
	closed := c.cleaned
	deferred := c.deferWrite
	if deferred {
		c.rxKeep = true // it receives: acknowledged messages may stay for its receives (recycleAcked)
	}
	c.unlock()
	if deferred {
		c.setPerforming()
	}
	if len(ups) > 0 {
		for i := range ups {
			c.perform(&ups[i])
			ups[i] = upcall{}
		}
		c.spareUpcalls = ups[:0]
	}
	if closed {
		c.flushHeld()
		c.m.retire(c)
	}
	if deferred {
		c.flush()
	}
}

// perform carries out one upcall (Messenger.perform, where delivery and dispatch are one
// function); inlined into run.
func (c *Connection) perform(u *upcall) { c.m.perform(c, u) }

// sync settles what the core's last step asked for: a failed connect, a replace, output to
// write, interest to poll for, its next deadline, and cleanup once closed.
func (c *Connection) sync() {
	for i := 0; i < 4; i++ {
		if err := c.connectErr; err != nil {
			c.connectErr = nil
			c.p.ConnectFailed(err, errors.Is(err, netio.ErrRefused))
			continue
		}
		if c.handover != nil {
			c.carryOutHandover()
			continue
		}
		if c.sock != nil && !c.connecting && !c.writeBlocked && !c.deferWrite && c.p.HasOutput() {
			c.writeOut()
			continue
		}
		break
	}
	c.seen = c.bufs.epoch
	if c.drained && !c.writeBlocked {
		c.drained = false
		c.bufs.keepIdle(c) // its buffers go back once it stays idle (see bufCache)
	}
	c.updateInterest()
	if !c.deferWrite {
		// A section that delivered messages is followed by run's flush, whose section syncs
		// again once the replies are written: the idle deadline, which moves with every read
		// and write, is moved there, after the write, rather than on the way to it.
		c.updateTimer()
	}
	if c.p.State() == proto.StateClosed && !c.cleaned {
		c.cleanup()
	}
}

// releaseIdle is the sweep's (bufCache.RunChore): gives the connection's buffers back,
// unless another goroutine holds the connection (an inline send: it is busy), and reports
// whether it did. On the center, outside run.
func (c *Connection) releaseIdle() bool {
	if !c.mu.tryLock() {
		return false
	}
	if c.p != nil {
		c.p.ReleaseIdle()
	}
	c.returnStash() // the acknowledged messages kept for receives (recycleAcked)
	c.holding = false
	c.mu.Unlock()
	return true
}

// onFile handles readiness of the connection's socket. It tells the center that it settled
// the socket (event.Center.Settled): it reads until the socket is drained and writes until
// done or blocked, and says otherwise (Unsettled) where it stops at a cap.
//
// With Config.ReplyWhileReading, reading may pause to write (see readIn): run then
// dispatches what was read and flushes the replies, and reading resumes in another run,
// within the same cap of reads.
func (c *Connection) onFile(fd int, ready netio.Events) {
	reads := maxReadsPerEvent
	for {
		c.run(func() {
			if c.sock == nil || c.sock.FD() != fd {
				return // a stale event for a socket already replaced
			}
			c.center.Settled()
			if c.connecting {
				c.finishConnect()
				return
			}
			if ready&netio.Write != 0 {
				c.writeBlocked = false
			}
			if ready&netio.Read != 0 {
				reads = c.readIn(reads)
			}
		})
		paused := c.readPaused
		c.readPaused = false
		if !paused || c.cleaned { // (both touched only on this center)
			return
		}
		ready = netio.Read
	}
}

func (c *Connection) finishConnect() {
	err := c.sock.ConnectError()
	if errors.Is(err, netio.ErrInProgress) {
		return
	}
	c.connecting = false
	if err != nil {
		c.p.ConnectFailed(err, errors.Is(err, netio.ErrRefused))
		return
	}
	c.p.Connected()
}

// readIn reads while the core wants input, at most reads times, and returns how many reads
// are left; a short read means the socket is drained for now (readiness is level-triggered,
// so anything that arrives later is reported again).
//
// With Config.ReplyWhileReading, a connection alone on its center pauses (readPaused) once
// a pass read overlapBytes in full reads and delivered a message, so that run dispatches
// what was read and writes the replies before the rest of the input is read: the peer
// starts on those replies while this side reads on, instead of the two taking turns with
// whole trains (BENCHMARKS.md, "rr: overlapping client and server"). Ceph writes only once
// the input is drained (ProtocolV1 queues its write handler as an external event, which runs
// after the read handler's pass; the pass reads until the socket is empty). A center with
// other connections has other work to overlap with; there the pause only adds writes.
func (c *Connection) readIn(reads int) int {
	got := 0
	for ; reads > 0 && c.sock != nil; reads-- {
		buf := c.p.ReadBuf()
		if len(buf) == 0 {
			c.center.Unsettled() // the core wants nothing now: input may be left
			return reads
		}
		n, err := c.sock.Read(buf)
		if n > 0 {
			c.traffic().bytesIn.Add(uint64(n))
			c.p.Received(n)
		}
		if err != nil {
			if !errors.Is(err, netio.ErrWouldBlock) && c.sock != nil {
				c.p.TransportError(err)
			} else {
				c.drained = true
			}
			return reads - 1
		}
		if n < len(buf) {
			c.drained = true // the kernel had less than asked for: nothing is left
			return reads - 1
		}
		got += n
		if got >= overlapBytes && c.msgsIn > 0 && reads > 1 && c.sock != nil && c.m.cfg.ReplyWhileReading &&
			c.center.Load() == 1 {
			c.readPaused = true
			return reads - 1
		}
	}
	if c.sock != nil {
		c.center.Unsettled() // stopped at the cap, or the core wants nothing: input may be left
	}
	return reads
}

// writeOut writes the core's output until it is done, the socket is full, or the cap is hit.
func (c *Connection) writeOut() {
	for i := 0; i < maxWritesPerEvent && c.sock != nil; i++ {
		iov := c.p.Output()
		c.msgsOut += c.p.TakeWritten() // the messages Output encoded
		if len(iov) == 0 {
			return
		}
		n, err := c.sock.Writev(iov)
		if n > 0 {
			c.traffic().bytesOut.Add(uint64(n))
			c.p.Wrote(n)
		}
		if err != nil {
			if errors.Is(err, netio.ErrWouldBlock) {
				c.writeBlocked = true
			} else {
				c.p.TransportError(err)
			}
			return
		}
	}
	c.writeBlocked = c.sock != nil // cap hit: continue when writable
	if c.inCenter {
		c.center.Unsettled() // the socket is still writable: no new event will say so
	}
}

func (c *Connection) updateInterest() {
	var want netio.Events
	if c.sock != nil {
		switch {
		case c.connecting:
			want = netio.Write
		default:
			if c.p.WantRead() {
				want |= netio.Read
			}
			if c.writeBlocked {
				want |= netio.Write
			}
		}
	}
	if want == c.mask {
		return
	}
	fd := -1
	if c.sock != nil {
		fd = c.sock.FD()
	}
	if drop := c.mask &^ want; drop != 0 && fd >= 0 {
		_ = c.center.DeleteFileEvent(fd, drop)
	}
	if add := want &^ c.mask; add != 0 {
		if err := c.center.CreateFileEvent(fd, add, c.fileFn()); err != nil {
			c.m.log.Error("watch socket", "conn", c.id, "err", err)
		}
	}
	c.mask = want
}

// updateTimer keeps one time event at the core's next deadline. The idle deadline moves with
// every read and write, so the event is usually moved rather than re-created (which would
// allocate on every message), and moved later, which the center only records until the event
// reaches the head of its heap (event.Center.ResetTimeEvent).
func (c *Connection) updateTimer() {
	at, ok := c.p.NextDeadline()
	if ok && c.timer != 0 && at == c.timerAt {
		return
	}
	if c.timer != 0 && ok {
		if id, moved := c.center.ResetTimeEvent(c.timer, at); moved {
			c.timer, c.timerAt = id, at
			return
		}
	}
	if c.timer != 0 {
		c.center.DeleteTimeEvent(c.timer)
		c.timer = 0
	}
	if ok {
		c.timerAt = at
		c.timer = c.center.CreateTimeEventAt(at, c.onTimerFn())
	}
}

// fileFn is c.onFile, bound once (interest changes often: a method value per change would
// allocate).
func (c *Connection) fileFn() event.FileHandler {
	if c.onFileFn == nil {
		c.onFileFn = c.onFile
	}
	return c.onFileFn
}

// onTimerFn is c.onTimer, bound once.
func (c *Connection) onTimerFn() func() {
	if c.timerFn == nil {
		c.timerFn = c.onTimer
	}
	return c.timerFn
}

func (c *Connection) onTimer() {
	c.run(func() {
		c.timer = 0
		c.p.Tick()
	})
}

// closeSocket drops the current socket. On the owning center it is unwatched and closed at
// once; from elsewhere (mark_down, a replace decided by another center) that is posted.
func (c *Connection) closeSocket() {
	s := c.sock
	if s == nil {
		return
	}
	c.sock, c.mask, c.connecting, c.writeBlocked = nil, 0, false, false
	c.addTraffic()
	if c.inCenter {
		c.unwatchAndClose(s)
		return
	}
	c.center.Post(func() { c.unwatchAndClose(s) })
}

func (c *Connection) unwatchAndClose(s netio.Socket) {
	_ = c.center.DeleteFileEvent(s.FD(), netio.Read|netio.Write)
	_ = s.Close()
}

// cleanup releases what a closed connection holds: registry entry, timer, center load.
func (c *Connection) cleanup() {
	c.cleaned = true
	c.markClosed()
	if c.timer != 0 {
		c.center.DeleteTimeEvent(c.timer)
		c.timer = 0
	}
	// Leave the registry before the socket closes: the peer reconnects as soon as it sees
	// the close, and must not find this session as its "existing" one.
	c.m.forget(c)
	c.closeSocket()
	c.p.ReleaseIdle() // its buffers, unless input or output is still buffered in them
	c.returnStash()   // the acknowledged messages kept for receives (recycleAcked)
	c.center.AddLoad(-1)
	c.pmu.Lock()
	dropped := c.pend
	c.pend = nil
	c.pmu.Unlock()
	for _, msg := range dropped {
		c.m.trace(TraceEvent{Kind: TraceDrop, Conn: c, Msg: msg})
	}
}
