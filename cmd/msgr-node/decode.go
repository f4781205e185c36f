package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// decodeSummary is decode's last line (the shape of the ceph-lab annotator's ground truth).
// A stream is complete when it ends between two elements and owes nothing (see stopPoint);
// otherwise Truncated says where it stopped.
type decodeSummary struct {
	Bytes         int            `json:"bytes"`
	Complete      bool           `json:"complete"`
	Truncated     *stopPoint     `json:"truncated"`
	HandshakeDone bool           `json:"handshake_done"`
	HandshakeEnd  *int           `json:"handshake_end_offset"` // after the last handshake element; null when truncated
	ReplyTags     []string       `json:"handshake_reply_tags"`
	MyAddr        *addrJSON      `json:"my_addr,omitempty"`           // c2s: the client's own address
	ServerAddr    *addrJSON      `json:"server_addr,omitempty"`       // s2c: the server's own address
	PeerAddr      *addrJSON      `json:"peer_addr_as_seen,omitempty"` // s2c: the client's address as the server saw it
	Frames        map[string]int `json:"frames"`
	MessageTypes  map[string]int `json:"message_types"`
	AllCRCOK      bool           `json:"all_crc_ok"`
}

// element is one JSON line per decoded element.
type element struct {
	Offset int    `json:"offset"`
	Kind   string `json:"kind"`

	Addr string `json:"addr,omitempty"`

	Tag                string  `json:"tag,omitempty"`
	Features           string  `json:"features,omitempty"`
	HostType           *uint32 `json:"host_type,omitempty"`
	GlobalSeq          *uint32 `json:"global_seq,omitempty"`
	ConnectSeq         *uint32 `json:"connect_seq,omitempty"`
	ProtocolVersion    *uint32 `json:"protocol_version,omitempty"`
	AuthorizerProtocol *uint32 `json:"authorizer_protocol,omitempty"`
	AuthorizerLen      *uint32 `json:"authorizer_len,omitempty"`
	Flags              *uint8  `json:"flags,omitempty"`

	Seq       *uint64 `json:"seq,omitempty"`
	Sec       *uint32 `json:"sec,omitempty"`
	Nsec      *uint32 `json:"nsec,omitempty"`
	Tid       *uint64 `json:"tid,omitempty"`
	Type      *uint16 `json:"type,omitempty"`
	Priority  *uint16 `json:"priority,omitempty"`
	Version   *uint16 `json:"version,omitempty"`
	Compat    *uint16 `json:"compat_version,omitempty"`
	FrontLen  *int    `json:"front_len,omitempty"`
	MiddleLen *int    `json:"middle_len,omitempty"`
	DataLen   *int    `json:"data_len,omitempty"`
	Src       string  `json:"src,omitempty"`
	CRCOK     *bool   `json:"crc_ok,omitempty"`
}

func ptr[T any](v T) *T { return &v }

func decodeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	side := fs.String("side", "", "which direction FILE holds: client (sent by the connecting side) or server")
	peer := fs.String("peer", "", "the other direction's bytes (needed for handshakes with several connect rounds)")
	synopsis := "msgr-node decode -side client|server FILE [-peer OTHERFILE]"
	if ok, code := parseFlags(fs, args, synopsis, stdout, stderr); !ok {
		return code
	}
	if *side != "client" && *side != "server" || fs.NArg() != 1 {
		// Flags after FILE: parse them too, so `decode -side client FILE -peer OTHER` works.
		if fs.NArg() > 1 {
			file := fs.Arg(0)
			if ok, code := parseFlags(fs, fs.Args()[1:], synopsis, stdout, stderr); !ok {
				return code
			}
			if fs.NArg() == 0 && (*side == "client" || *side == "server") {
				return decodeFiles(*side, file, *peer, stdout, stderr)
			}
		}
		fmt.Fprintln(stderr, "msgr-node decode: want -side client|server and exactly one FILE")
		return 2
	}
	return decodeFiles(*side, fs.Arg(0), *peer, stdout, stderr)
}

func decodeFiles(side, file, peerFile string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node decode: %v\n", err)
		return 1
	}
	var peer []byte
	if peerFile != "" {
		if peer, err = os.ReadFile(peerFile); err != nil {
			fmt.Fprintf(stderr, "msgr-node decode: %v\n", err)
			return 1
		}
	}
	s, replies, err := dissectSide(side, data, peer)
	if err != nil && !errors.Is(err, wire.ErrTruncated) {
		fmt.Fprintf(stderr, "msgr-node decode %s: %v\n", file, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	sum := decodeSummary{Bytes: len(data), ReplyTags: replies, AllCRCOK: true, MessageTypes: map[string]int{},
		Frames: map[string]int{"MSG": 0, "ACK": 0, "KEEPALIVE": 0, "KEEPALIVE2": 0, "KEEPALIVE2_ACK": 0, "CLOSE": 0}}
	if s != nil {
		for i := range s.Frames {
			f := &s.Frames[i]
			_ = enc.Encode(describe(f))
			if f.Kind >= wire.FrameMsg {
				sum.Frames[f.Kind.String()]++
			}
			if f.Kind == wire.FrameMsg {
				sum.MessageTypes[fmt.Sprint(f.Msg.Header.Type)]++
			}
		}
		describeStop(&sum, s, data, err, replies)
	}
	_ = enc.Encode(sum)
	return 0
}

// describeStop fills in where the stream stopped, whether its handshake finished, and its
// handshake addresses.
func describeStop(sum *decodeSummary, s *wire.Stream, data []byte, err error, replies []string) {
	n := len(data)
	sum.Truncated = truncatedAt(s, data, err)
	if sum.Truncated == nil && err == nil && s.Len() == n {
		sum.Truncated = owedElement(s, n, replies)
	}
	sum.Complete = sum.Truncated == nil && s.Len() == n
	sum.HandshakeDone = s.Open
	if sum.Truncated == nil {
		sum.HandshakeEnd = ptr(handshakeEnd(s))
	}
	as := handshakeAddrs(s)
	switch {
	case s.Dir == wire.ClientToServer && len(as) > 0:
		sum.MyAddr = as[0]
	case s.Dir == wire.ServerToClient && len(as) > 0:
		sum.ServerAddr = as[0]
		if len(as) > 1 {
			sum.PeerAddr = as[1]
		}
	}
}

// dissectSide decodes one direction, using the peer's bytes when given, and returns the
// connect reply tags the server sent, in order.
func dissectSide(side string, data, peer []byte) (*wire.Stream, []string, error) {
	if peer != nil {
		c2s, s2c := data, peer
		if side == "server" {
			c2s, s2c = peer, data
		}
		conv, err := wire.DissectConversation(c2s, s2c, wire.DissectOptions{})
		if conv == nil {
			return nil, []string{}, err
		}
		s := &conv.Client
		if side == "server" {
			s = &conv.Server
		}
		return s, replyTags(&conv.Server), err
	}
	dir := wire.ClientToServer
	if side == "server" {
		dir = wire.ServerToClient
	}
	s, err := wire.Dissect(dir, data, wire.DissectOptions{})
	if s == nil {
		return nil, []string{}, err
	}
	if side == "server" {
		return s, replyTags(s), err
	}
	return s, []string{}, err
}

func replyTags(server *wire.Stream) []string {
	tags := []string{}
	for i := range server.Frames {
		if server.Frames[i].Kind == wire.FrameConnectReply {
			tags = append(tags, server.Frames[i].Reply.Tag.String())
		}
	}
	return tags
}

// describe renders one decoded element as its JSON line.
func describe(f *wire.Frame) element {
	e := element{Offset: f.Offset, Kind: f.Kind.String()}
	switch f.Kind {
	case wire.FrameAddr:
		e.Addr = f.Addr.String()
	case wire.FrameConnect:
		c := f.Connect
		e.Features = fmt.Sprintf("%#x", c.Features)
		e.HostType, e.GlobalSeq, e.ConnectSeq = ptr(uint32(c.HostType)), ptr(c.GlobalSeq), ptr(c.ConnectSeq)
		e.ProtocolVersion, e.AuthorizerProtocol = ptr(c.ProtocolVersion), ptr(c.AuthorizerProtocol)
		e.AuthorizerLen, e.Flags = ptr(c.AuthorizerLen), ptr(c.Flags)
	case wire.FrameConnectReply:
		r := f.Reply
		e.Tag, e.Features = r.Tag.String(), fmt.Sprintf("%#x", r.Features)
		e.GlobalSeq, e.ConnectSeq, e.ProtocolVersion = ptr(r.GlobalSeq), ptr(r.ConnectSeq), ptr(r.ProtocolVersion)
		e.AuthorizerLen, e.Flags = ptr(r.AuthorizerLen), ptr(r.Flags)
	case wire.FrameSeq, wire.FrameAck:
		e.Seq = ptr(f.Seq)
	case wire.FrameKeepalive2, wire.FrameKeepalive2Ack:
		e.Sec, e.Nsec = ptr(f.Time.Sec), ptr(f.Time.Nsec)
	case wire.FrameMsg:
		describeMsg(&e, f.Msg)
	}
	if f.Kind >= wire.FrameMsg {
		e.Tag = f.Kind.String()
	}
	return e
}

func describeMsg(e *element, m *wire.Message) {
	h := &m.Header
	e.Seq, e.Tid, e.Type, e.Priority = ptr(h.Seq), ptr(h.Tid), ptr(h.Type), ptr(h.Priority)
	e.Version, e.Compat = ptr(h.Version), ptr(h.CompatVersion)
	e.FrontLen, e.MiddleLen, e.DataLen = ptr(len(m.Front)), ptr(len(m.Middle)), ptr(len(m.Data))
	e.Src = h.Src.String()
	e.CRCOK = ptr(true) // the dissector verified header, front, middle and data crcs
}
