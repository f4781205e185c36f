package main

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Where a captured stream stopped. The dissector accepts a stream that ends between two
// elements (a connection closed early), but some elements must follow others: a greeting is
// whole (banner and addresses), and after a SEQ reply each side owes the other its le64 seq. A
// stream that ends where one is owed, or inside an element, is truncated, as the ceph-lab
// annotator says it: which element, at what offset, how many bytes it needs and how many are
// left.

// stopPoint is where a truncated stream stopped.
type stopPoint struct {
	In     string `json:"in"`     // the element that is cut short or missing, e.g. "client addr"
	Offset int    `json:"offset"` // where it starts
	Need   int    `json:"need"`   // bytes it needs (0 when the stream ends inside a header that says)
	Have   int    `json:"have"`   // bytes left in the stream from Offset
}

// addrJSON is a handshake address as it is on the wire: the legacy type field, the nonce and
// the socket address.
type addrJSON struct {
	Type   uint32 `json:"type"` // always 0 in the msgr1 handshake
	Nonce  uint32 `json:"nonce"`
	Family uint16 `json:"family"` // AF_INET 2, AF_INET6 10, 0 for none
	IP     string `json:"ip"`
	Port   uint16 `json:"port"`
}

func describeAddr(a wire.EntityAddr) *addrJSON {
	j := &addrJSON{Nonce: a.Nonce, Port: a.Port()}
	switch {
	case !a.Addr.IsValid():
	case a.Addr.Addr().Is4():
		j.Family, j.IP = 2, a.Addr.Addr().String()
	default:
		j.Family, j.IP = 10, a.Addr.Addr().String()
	}
	return j
}

// handshakeAddrs returns the addresses a stream carried: a client's own (c2s), or the server's
// own and the client's as the server saw it (s2c).
func handshakeAddrs(s *wire.Stream) []*addrJSON {
	var as []*addrJSON
	for i := range s.Frames {
		if s.Frames[i].Kind == wire.FrameAddr {
			as = append(as, describeAddr(s.Frames[i].Addr))
		}
	}
	return as
}

// elementName names a handshake element as the annotator does; n counts the addresses and
// the seqs before it.
func elementName(dir wire.Direction, kind wire.FrameKind, n int) string {
	client := dir == wire.ClientToServer
	switch kind {
	case wire.FrameBanner:
		return "banner"
	case wire.FrameAddr:
		switch {
		case client:
			return "client addr"
		case n == 0:
			return "server addr"
		}
		return "peer addr as seen"
	case wire.FrameConnect:
		return "ceph_msg_connect"
	case wire.FrameConnectReply:
		return "ceph_msg_connect_reply"
	case wire.FrameSeq:
		if client {
			return "u64 in_seq (reply to SEQ)"
		}
		return "u64 seq after TAG_SEQ"
	}
	return kind.String()
}

var reNeed = regexp.MustCompile(`need (\d+) bytes`)

// frameKinds maps the dissector's frame names back to kinds.
var frameKinds = func() map[string]wire.FrameKind {
	m := map[string]wire.FrameKind{}
	for k := wire.FrameBanner; k <= wire.FrameClose; k++ {
		m[k.String()] = k
	}
	return m
}()

// truncatedAt reads where the dissector found the stream cut inside an element. Need counts
// from the element's start: a handshake element's size (with its authorizer), or a session
// frame's tag, header, sections and footer (tag and header when the header is cut).
func truncatedAt(s *wire.Stream, data []byte, err error) *stopPoint {
	var de *wire.DecodeError
	if !errors.Is(err, wire.ErrTruncated) || !errors.As(err, &de) || de.Offset > len(data) {
		return nil
	}
	sp := &stopPoint{In: de.What, Offset: de.Offset, Have: len(data) - de.Offset}
	_, name, _ := strings.Cut(de.What, " ")
	k, known := frameKinds[name]
	switch {
	case known && k >= wire.FrameMsg:
		sp.In, sp.Need = k.String(), frameNeed(k, data[de.Offset:], s.OldFooter)
	case known:
		sp.In = elementName(s.Dir, k, s.Count(wire.FrameAddr))
		fallthrough
	default:
		if m := reNeed.FindStringSubmatch(err.Error()); m != nil {
			sp.Need, _ = strconv.Atoi(m[1])
		}
	}
	return sp
}

// frameNeed is the length of a session frame of kind k whose first bytes are rest.
func frameNeed(k wire.FrameKind, rest []byte, oldFooter bool) int {
	switch k {
	case wire.FrameMsg:
		h, err := wire.DecodeHeader(rest[min(1, len(rest)):], false)
		if err != nil {
			return 1 + wire.HeaderLen
		}
		return 1 + wire.HeaderLen + int(h.FrontLen) + int(h.MiddleLen) + int(h.DataLen) + wire.FooterSize(!oldFooter)
	case wire.FrameAck, wire.FrameKeepalive2, wire.FrameKeepalive2Ack:
		return 1 + 8
	}
	return 1
}

// owedElement returns the element a stream that ended cleanly still owes, if any: the rest of
// the greeting, or the le64 seq after a SEQ reply. replies are the server's reply tags (from the
// peer stream for a client stream; nil when unknown).
func owedElement(s *wire.Stream, dataLen int, replies []string) *stopPoint {
	counts := map[wire.FrameKind]int{}
	var last wire.FrameKind
	for i := range s.Frames {
		counts[s.Frames[i].Kind]++
		last = s.Frames[i].Kind
	}
	addrsWanted := 1
	if s.Dir == wire.ServerToClient {
		addrsWanted = 2
	}
	owe := func(kind wire.FrameKind, n, size int) *stopPoint {
		return &stopPoint{In: elementName(s.Dir, kind, n), Offset: dataLen, Need: size}
	}
	switch {
	case counts[wire.FrameBanner] == 0:
		return owe(wire.FrameBanner, 0, wire.BannerLen)
	case counts[wire.FrameAddr] < addrsWanted:
		return owe(wire.FrameAddr, counts[wire.FrameAddr], wire.AddrLen)
	case counts[wire.FrameSeq] > 0:
		return nil
	case s.Dir == wire.ServerToClient && last == wire.FrameConnectReply && lastReply(s) == wire.TagSeq:
		return owe(wire.FrameSeq, 0, wire.SeqLen)
	case s.Dir == wire.ClientToServer && last == wire.FrameConnect:
		if n := counts[wire.FrameConnect]; n <= len(replies) && replies[n-1] == wire.TagSeq.String() {
			return owe(wire.FrameSeq, 0, wire.SeqLen)
		}
	}
	return nil
}

func lastReply(s *wire.Stream) wire.Tag {
	for i := len(s.Frames) - 1; i >= 0; i-- {
		if s.Frames[i].Kind == wire.FrameConnectReply {
			return s.Frames[i].Reply.Tag
		}
	}
	return 0
}

// handshakeEnd is the offset after the stream's last handshake element.
func handshakeEnd(s *wire.Stream) int {
	end := 0
	for i := range s.Frames {
		if f := &s.Frames[i]; f.Kind < wire.FrameMsg {
			end = f.Offset + f.Len
		}
	}
	return end
}
