package explore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Side is one of the scenario's two messengers.
type Side uint8

// The sides. The connector opens the first connection; the acceptor accepts it. After a fault
// either may open the next one (a lossless peer reconnects from whichever side has messages).
const (
	Connector Side = iota
	Acceptor
)

var sideNames = [...]string{Connector: "connector", Acceptor: "acceptor"}

func (s Side) String() string { return sideNames[s] }

// other is the peer of side s.
func (s Side) other() Side { return 1 - s }

// Op is the socket operation a fault point hits.
type Op uint8

// Operations.
const (
	Write Op = iota
	Read
)

var opNames = [...]string{Write: "write", Read: "read"}

func (o Op) String() string { return opNames[o] }

// Action is what happens to the socket at a fault point.
type Action uint8

// Actions.
const (
	// Reset shuts the socket down in both directions at exactly that byte, as Ceph's
	// ms_inject_socket_failures does: the operation fails, and the peer reads everything
	// before the byte, then the end of the stream.
	Reset Action = iota
	// Stall holds the stream at exactly that byte for StallFor: the peer has everything
	// before it, then nothing, then the rest. A stall holds the stream the side writes: the
	// reader's view of it is the same point, so stalls are write points only.
	Stall
	// Block holds the stream at that byte until well after the peer's timeouts fired
	// (BlockFor): the peer gives up on the connection. Write points only, as Stall.
	Block
)

var actionNames = [...]string{Reset: "reset", Stall: "stall", Block: "block"}

func (a Action) String() string { return actionNames[a] }

// Elements: the msgr1 elements a fault point can be placed at, named by what they are in the
// conversation (wire.Walker's grammar). A session frame's tag is named by its frame ("msg" is
// a message's MSG tag, "ack" an ACK's tag); the elements after it by their role in it.
var elemNames = []string{
	"banner", "addr", "connect", "connect_auth", "connect_reply", "reply_auth", "in_seq",
	"msg", "header", "front", "middle", "data", "footer",
	"ack", "ack_seq", "keepalive2", "keepalive2_stamp", "keepalive2_ack", "keepalive2_ack_stamp",
	"keepalive", "close",
}

// elemName names the element that starts at s: one of elemNames, or "" for a byte that is
// not a frame tag.
func elemName(kind wire.ElemKind, frame wire.FrameKind) string {
	switch kind {
	case wire.ElemBanner:
		return "banner"
	case wire.ElemAddr:
		return "addr"
	case wire.ElemConnect:
		return "connect"
	case wire.ElemReply:
		return "connect_reply"
	case wire.ElemAuthorizer:
		if frame == wire.FrameConnect {
			return "connect_auth"
		}
		return "reply_auth"
	case wire.ElemSeq:
		if frame == wire.FrameAck {
			return "ack_seq"
		}
		return "in_seq"
	case wire.ElemHeader, wire.ElemFront, wire.ElemMiddle, wire.ElemData, wire.ElemFooter:
		return kind.String()
	case wire.ElemTimespec:
		if frame == wire.FrameKeepalive2Ack {
			return "keepalive2_ack_stamp"
		}
		return "keepalive2_stamp"
	case wire.ElemTag:
		return tagName(frame)
	}
	return ""
}

func tagName(frame wire.FrameKind) string {
	switch frame {
	case wire.FrameMsg:
		return "msg"
	case wire.FrameAck:
		return "ack"
	case wire.FrameKeepalive2:
		return "keepalive2"
	case wire.FrameKeepalive2Ack:
		return "keepalive2_ack"
	case wire.FrameKeepalive:
		return "keepalive"
	case wire.FrameClose:
		return "close"
	}
	return ""
}

// elemIndex is the index of name in elemNames (-1: none).
func elemIndex(name string) int {
	for i, n := range elemNames {
		if n == name {
			return i
		}
	}
	return -1
}

// Point is one fault point: a side's read or write of the Round-th element of a kind (counted
// over every socket of that side, from the start of the run), and what happens there.
type Point struct {
	Side   Side
	Op     Op
	Elem   string // one of elemNames
	Round  int    // 1 is the first occurrence
	Action Action
}

// String renders the point as -point takes it, e.g. "acceptor/write/connect_reply/1/reset".
func (p Point) String() string {
	return fmt.Sprintf("%v/%v/%s/%d/%v", p.Side, p.Op, p.Elem, p.Round, p.Action)
}

// ParsePoint parses a point as String renders it.
func ParsePoint(s string) (Point, error) {
	f := strings.Split(s, "/")
	if len(f) != 5 {
		return Point{}, fmt.Errorf("fault point %q: want side/op/element/round/action", s)
	}
	var p Point
	var ok bool
	if p.Side, ok = lookup[Side](sideNames[:], f[0]); !ok {
		return Point{}, fmt.Errorf("fault point %q: side %q is not connector or acceptor", s, f[0])
	}
	if p.Op, ok = lookup[Op](opNames[:], f[1]); !ok {
		return Point{}, fmt.Errorf("fault point %q: operation %q is not read or write", s, f[1])
	}
	if elemIndex(f[2]) < 0 {
		return Point{}, fmt.Errorf("fault point %q: unknown element %q (one of %s)", s, f[2], strings.Join(elemNames, ", "))
	}
	p.Elem = f[2]
	r, err := strconv.Atoi(f[3])
	if err != nil || r < 1 {
		return Point{}, fmt.Errorf("fault point %q: round %q is not a number >= 1", s, f[3])
	}
	p.Round = r
	if p.Action, ok = lookup[Action](actionNames[:], f[4]); !ok {
		return Point{}, fmt.Errorf("fault point %q: action %q is not reset, stall or block", s, f[4])
	}
	if p.Op == Read && p.Action != Reset {
		return Point{}, fmt.Errorf("fault point %q: a read point only resets (a stall holds the stream its writer writes: use the writer's point)", s)
	}
	return p, nil
}

func lookup[T ~uint8](names []string, s string) (T, bool) {
	for i, n := range names {
		if n == s {
			return T(i), true
		}
	}
	return 0, false
}

// Compare orders points (-1, 0, +1): by side, operation, element (in conversation order),
// round, action.
func Compare(p, q Point) int {
	switch {
	case p.less(q):
		return -1
	case q.less(p):
		return 1
	}
	return 0
}

func (p Point) less(q Point) bool {
	if p.Side != q.Side {
		return p.Side < q.Side
	}
	if p.Op != q.Op {
		return p.Op < q.Op
	}
	if a, b := elemIndex(p.Elem), elemIndex(q.Elem); a != b {
		return a < b
	}
	if p.Round != q.Round {
		return p.Round < q.Round
	}
	return p.Action < q.Action
}
