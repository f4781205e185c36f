package synthetic

import (
	"fmt"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// OpKind is one kind of workload operation.
type OpKind uint8

// Operation kinds.
const (
	OpConnect OpKind = iota // generate_connection: a random client connects to a random server
	OpDrop                  // drop_connection: mark a random connection down
	OpSend                  // send_message: an MPing (or, 5%, an MCommand at priority 200)
	OpSleep                 // let time pass
	OpNone                  // a drop with drops disabled (Ceph's SyntheticInjectTest4)
	numOps
)

var opNames = [numOps]string{"connect", "drop", "send", "sleep", "none"}

func (k OpKind) String() string {
	if k < numOps {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one operation, drawn by Next.
type Op struct {
	Kind  OpKind
	Sleep time.Duration // for OpSleep
}

// Stats count what the workload did.
type Stats struct {
	Ops           [numOps]int
	Blocked       int // operations that had to wait for in-flight PINGs to drain
	NoConnection  int // sends and drops with no connection available
	ConnsMade     int // generate_connection calls that added a connection
	Pings         int
	Pongs         int // PONGs sent
	PongsChecked  int // PONGs matched against a pending PING
	Commands      int
	Dropped       int // connections marked down by the workload
	PeerDropped   int // reverse connections marked down with them (lossless peers)
	NotSent       int // sends the messenger refused (closed connection)
	Resets        int // reset events seen
	RemoteResets  int
	Connects      int // (fast) connect events
	Accepts       int
	ForgottenPing int // pending PINGs forgotten on drop, reset, connect or accept
}

// Stats returns a copy of the counts so far.
func (w *Workload) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Next draws the next random operation from Ceph's mix.
func (w *Workload) Next() Op {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.rand.IntN(100)
	mix := w.cfg.Mix
	switch {
	case v > mix.Connect:
		return Op{Kind: OpConnect}
	case v > mix.Drop && mix.NoDrop:
		return Op{Kind: OpNone}
	case v > mix.Drop:
		return Op{Kind: OpDrop}
	case v > mix.Send:
		return Op{Kind: OpSend}
	}
	return Op{Kind: OpSleep, Sleep: w.sleepFor()}
}

// Do carries out op. It returns ErrBlocked, without doing anything, when the operation must
// wait for pending PINGs to drain (sends and drops, like Ceph's _get_random_connection); the
// driver then lets time pass (Config.BlockedWait) and calls Do again. A sleep does nothing:
// the driver lets op.Sleep pass.
func (w *Workload) Do(op Op) error {
	switch op.Kind {
	case OpConnect:
		w.GenerateConnection()
	case OpDrop:
		return w.dropConnection()
	case OpSend:
		return w.sendMessage()
	}
	w.mu.Lock()
	w.stats.Ops[op.Kind]++
	w.mu.Unlock()
	return nil
}

// Seed makes n initial connections (Ceph's "seeding connection" loop).
func (w *Workload) Seed(n int) {
	for i := 0; i < n; i++ {
		w.GenerateConnection()
	}
}

// GenerateConnection connects a random client to a random server (generate_connection),
// unless MaxConns connections exist.
func (w *Workload) GenerateConnection() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.conns) >= w.cfg.MaxConns {
		return
	}
	srv := w.nodes[w.rand.IntN(w.cfg.Servers)]
	cli := w.nodes[w.cfg.Servers+w.rand.IntN(w.cfg.Clients)]
	c, err := cli.M.ConnectTo(srv.M.Name().Type, srv.M.MyAddr())
	if err != nil {
		return
	}
	if _, ok := w.pairs[c]; !ok {
		w.conns = append(w.conns, c)
		w.stats.ConnsMade++
	}
	w.pairs[c] = [2]*Node{cli, srv}
}

// pickLocked is _get_random_connection: ErrBlocked while too many PINGs are pending, nil
// when there is no connection.
func (w *Workload) pickLocked() (*msgr.Connection, error) {
	if len(w.sent) > w.cfg.MaxInFlight {
		w.stats.Blocked++
		return nil, ErrBlocked
	}
	if len(w.conns) == 0 {
		w.stats.NoConnection++
		return nil, nil
	}
	return w.conns[w.rand.IntN(len(w.conns))], nil
}

// sendMessage is send_message: 5% an MCommand at priority 200, else a PING with a random payload.
func (w *Workload) sendMessage() error {
	w.mu.Lock()
	c, err := w.pickLocked()
	if c == nil {
		w.mu.Unlock()
		return err
	}
	w.stats.Ops[OpSend]++
	from, to := w.pairs[c][0], w.pairs[c][1]
	if w.rand.IntN(100) < w.cfg.CommandChance {
		w.stats.Commands++
		w.mu.Unlock()
		m := wire.NewMessage(wire.MsgCommand, []byte("command"))
		m.Header.Priority = 200
		w.send(from, to, c, m)
		return nil
	}
	data := w.data[w.rand.IntN(len(w.data))]
	pl := Payload{Who: Ping, Seq: w.seq, Data: data}
	w.seq++
	if !w.cfg.ClientPolicy.Lossy {
		w.sent[pl.Seq] = data
		w.connSent[c] = append(w.connSent[c], pl.Seq)
	}
	w.stats.Pings++
	w.mu.Unlock()
	m := wire.NewMessage(wire.MsgPing, nil)
	m.Data = pl.Encode()
	if !w.send(from, to, c, m) {
		w.forgetSeq(c, pl.Seq)
	}
	return nil
}

// send hands m to the messenger on c, telling the observer first; false if it was refused.
func (w *Workload) send(from, to *Node, c *msgr.Connection, m *msgr.Message) bool {
	m.Header.Tid = w.nextID()
	if m.Header.Priority == 0 {
		m.Header.Priority = from.M.Config().DefaultSendPriority
	}
	lossless := !from.M.Policy(c.PeerType()).Lossy
	w.obs.Sent(from, to, c, m, lossless)
	if err := c.SendMessage(m); err != nil {
		w.obs.NotSent(from, m)
		w.mu.Lock()
		w.stats.NotSent++
		w.mu.Unlock()
		return false
	}
	return true
}

// forgetSeq drops one pending PING (its send was refused).
func (w *Workload) forgetSeq(c *msgr.Connection, seq uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sent, seq)
	q := w.connSent[c]
	for i, s := range q {
		if s == seq {
			w.connSent[c] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
}

// dropConnection is drop_connection: mark a random connection down (without a reset event)
// and forget its pending PINGs; with a lossless, standby, non-server client policy the
// server's side of the session is marked down too, as Ceph's test does.
func (w *Workload) dropConnection() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.conns) < w.cfg.MinDropConns {
		w.stats.Ops[OpDrop]++
		return nil
	}
	c, err := w.pickLocked()
	if c == nil {
		return err
	}
	w.stats.Ops[OpDrop]++
	w.stats.Dropped++
	cli, srv := w.pairs[c][0], w.pairs[c][1]
	w.clearPendingLocked(c)
	w.obs.MarkedDown(cli, srv, c)
	c.MarkDown()
	p := w.cfg.ClientPolicy
	if !p.Server && !p.Lossy && p.Standby && !w.cfg.ServerPolicy.Server {
		peer, err := srv.M.ConnectTo(cli.M.Name().Type, cli.M.MyAddr())
		if err == nil {
			w.obs.MarkedDown(srv, cli, peer)
			peer.MarkDown()
			w.clearPendingLocked(peer)
			w.removeLocked(peer)
			w.stats.PeerDropped++
		}
	}
	w.removeLocked(c)
	return nil
}

// removeLocked takes c out of the available connections.
func (w *Workload) removeLocked(c *msgr.Connection) bool {
	if _, ok := w.pairs[c]; !ok {
		return false
	}
	delete(w.pairs, c)
	for i, x := range w.conns {
		if x == c {
			w.conns = append(w.conns[:i], w.conns[i+1:]...)
			break
		}
	}
	return true
}

// clearPendingLocked forgets c's pending PINGs (Ceph's clear_pending).
func (w *Workload) clearPendingLocked(c *msgr.Connection) {
	for _, seq := range w.connSent[c] {
		delete(w.sent, seq)
		w.stats.ForgottenPing++
	}
	delete(w.connSent, c)
}
