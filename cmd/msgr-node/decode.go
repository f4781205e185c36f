package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

type decodeSummary struct {
	Open         bool           `json:"open"`
	ReplyTag     string         `json:"reply_tag"`
	Features     string         `json:"features"`
	ClientMsgs   map[string]int `json:"client_messages"`
	ServerMsgs   map[string]int `json:"server_messages"`
	Frames       [2]int         `json:"frames"`
	ClientFrames map[string]int `json:"client_frames"`
	ServerFrames map[string]int `json:"server_frames"`
	CRCOK        bool           `json:"crc_ok"`
}

func decodeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("decode", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print a JSON summary as the last line")
	if ok, code := parseFlags(fs, args, "msgr-node decode [-json] C2S.bin S2C.bin", stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "msgr-node decode: want two files: client-to-server and server-to-client bytes")
		return 2
	}
	c2s, err := os.ReadFile(fs.Arg(0))
	if err == nil {
		var s2c []byte
		s2c, err = os.ReadFile(fs.Arg(1))
		if err == nil {
			return decode(c2s, s2c, *asJSON, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "msgr-node decode: %v\n", err)
	return 1
}

func decode(c2s, s2c []byte, asJSON bool, stdout, stderr io.Writer) int {
	conv, err := wire.DissectConversation(c2s, s2c, wire.DissectOptions{})
	sum := decodeSummary{ClientMsgs: map[string]int{}, ServerMsgs: map[string]int{}, CRCOK: err == nil,
		ClientFrames: map[string]int{}, ServerFrames: map[string]int{}}
	if conv != nil {
		printStream(stdout, "client → server", &conv.Client)
		printStream(stdout, "server → client", &conv.Server)
		sum.Open, sum.ReplyTag = conv.Open, conv.Reply.Tag.String()
		sum.Features = fmt.Sprintf("%#x", conv.Features)
		countMessages(sum.ClientMsgs, &conv.Client)
		countMessages(sum.ServerMsgs, &conv.Server)
		sum.Frames = [2]int{len(conv.Client.Frames), len(conv.Server.Frames)}
		countFrames(sum.ClientFrames, &conv.Client)
		countFrames(sum.ServerFrames, &conv.Server)
	}
	printCounts(stdout, "client", sum.ClientMsgs)
	printCounts(stdout, "server", sum.ServerMsgs)
	if asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(stdout, string(b))
	}
	if err != nil {
		fmt.Fprintf(stderr, "msgr-node decode: %v\n", err)
		return 1
	}
	return 0
}

func printStream(w io.Writer, title string, s *wire.Stream) {
	fmt.Fprintf(w, "== %s (%d frames)\n", title, len(s.Frames))
	for i := range s.Frames {
		fmt.Fprintf(w, "  %6d  %s\n", s.Frames[i].Offset, s.Frames[i].String())
	}
}

func countMessages(counts map[string]int, s *wire.Stream) {
	for _, m := range s.Messages() {
		counts[fmt.Sprint(m.Header.Type)]++
	}
}

// countFrames counts the session frames (after the handshake) by tag name.
func countFrames(counts map[string]int, s *wire.Stream) {
	for i := range s.Frames {
		if k := s.Frames[i].Kind; k >= wire.FrameMsg {
			counts[k.String()]++
		}
	}
}

func printCounts(w io.Writer, who string, counts map[string]int) {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s sent %d message(s) of type %s\n", who, counts[k], k)
	}
}
