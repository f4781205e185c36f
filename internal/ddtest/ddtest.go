package ddtest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "ddtest: rewrite the expected output of data-driven test files")

// Rewriting reports whether the -rewrite flag is set (a handler may skip checks then).
func Rewriting() bool { return *rewrite }

// CmdArg is one argument of a command line: key=value, key=(v1,v2,…) or a bare key.
type CmdArg struct {
	Key  string
	Vals []string
}

func (a CmdArg) String() string {
	switch len(a.Vals) {
	case 0:
		return a.Key
	case 1:
		return a.Key + "=" + a.Vals[0]
	}
	return a.Key + "=(" + strings.Join(a.Vals, ",") + ")"
}

// TestData is one block of a test file.
type TestData struct {
	Pos      string // file:line of the command
	Cmd      string
	CmdArgs  []CmdArg
	Input    string // the lines between the command and "----", joined with newlines
	Expected string // the expected output, newline-terminated unless empty
}

// block is a parsed TestData and where its expected output sits in the file's lines.
type block struct {
	d        TestData
	sep      int // index of the "----" line
	resumeAt int // index of the first line after the expected output (and its closing separators)
}

// RunTest runs every block of the file at path through f and compares the output with the
// expected output (or records it, with -rewrite).
func RunTest(t *testing.T, path string, f func(t *testing.T, d *TestData) string) {
	t.Helper()
	runTest(t, path, f, func(msg string) { t.Error(msg) })
}

// Walk runs RunTest on every file of dir (not starting with '.') as a subtest named by the
// file's base name without extension.
func Walk(t *testing.T, dir string, f func(t *testing.T, d *TestData) string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		t.Run(strings.TrimSuffix(e.Name(), filepath.Ext(e.Name())), func(t *testing.T) { RunTest(t, path, f) })
	}
}

func runTest(t *testing.T, path string, f func(*testing.T, *TestData) string, mismatch func(string)) {
	t.Helper()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := splitLines(string(content))
	blocks, err := parse(path, lines)
	if err != nil {
		t.Fatal(err)
	}
	outs := make([]string, len(blocks))
	for i := range blocks {
		d := &blocks[i].d
		out := runBlock(t, d, f)
		if out != "" && !strings.HasSuffix(out, "\n") {
			out += "\n"
		}
		outs[i] = out
		if !*rewrite && out != d.Expected {
			mismatch(fmt.Sprintf("%s: %s\noutput differs from the expected output (-expected +found; run with -rewrite to accept):\n%s",
				d.Pos, d.CmdLine(), Diff(d.Expected, out)))
		}
	}
	if *rewrite {
		if err := os.WriteFile(path, []byte(render(lines, blocks, outs)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runBlock(t *testing.T, d *TestData, f func(*testing.T, *TestData) string) string {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: %s: panic: %v\n%s", d.Pos, d.CmdLine(), r, debug.Stack())
		}
	}()
	return f(t, d)
}

func splitLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func blank(line string) bool { return strings.TrimSpace(line) == "" }

func parse(path string, lines []string) ([]block, error) {
	var blocks []block
	for i := 0; i < len(lines); {
		if line := strings.TrimSpace(lines[i]); line == "" || strings.HasPrefix(line, "#") {
			i++
			continue
		}
		b := block{d: TestData{Pos: fmt.Sprintf("%s:%d", path, i+1)}}
		var err error
		if b.d.Cmd, b.d.CmdArgs, err = parseCmd(lines[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", b.d.Pos, err)
		}
		start := i + 1
		for i++; i < len(lines) && lines[i] != "----"; i++ {
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s: %s: missing ---- separator", b.d.Pos, b.d.Cmd)
		}
		b.d.Input = strings.Join(lines[start:i], "\n")
		b.sep = i
		i++
		var out []string
		if i < len(lines) && lines[i] == "----" {
			start := i + 1
			for i = start; i+1 < len(lines) && (lines[i] != "----" || lines[i+1] != "----"); i++ {
			}
			if i+1 >= len(lines) {
				return nil, fmt.Errorf("%s: %s: missing closing ----/---- of a framed output", b.d.Pos, b.d.Cmd)
			}
			out = lines[start:i]
			i += 2
		} else {
			start := i
			for ; i < len(lines) && !blank(lines[i]); i++ {
			}
			out = lines[start:i]
		}
		if len(out) > 0 {
			b.d.Expected = strings.Join(out, "\n") + "\n"
		}
		b.resumeAt = i
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// parseCmd splits "cmd a=1 b=(x,y) c" into the command and its arguments.
func parseCmd(line string) (string, []CmdArg, error) {
	fields := strings.Fields(line)
	var args []CmdArg
	for i := 1; i < len(fields); i++ {
		tok := fields[i]
		for strings.Contains(tok, "=(") && !strings.HasSuffix(tok, ")") && i+1 < len(fields) {
			i++
			tok += fields[i]
		}
		key, val, ok := strings.Cut(tok, "=")
		switch {
		case !ok:
			args = append(args, CmdArg{Key: key})
		case strings.HasPrefix(val, "("):
			if !strings.HasSuffix(val, ")") {
				return "", nil, fmt.Errorf("argument %q: unbalanced parenthesis", tok)
			}
			inner := strings.TrimSuffix(strings.TrimPrefix(val, "("), ")")
			var vals []string
			if inner != "" {
				vals = strings.Split(inner, ",")
			}
			args = append(args, CmdArg{Key: key, Vals: vals})
		default:
			args = append(args, CmdArg{Key: key, Vals: []string{val}})
		}
	}
	return fields[0], args, nil
}

func render(lines []string, blocks []block, outs []string) string {
	var b strings.Builder
	prev := 0
	for i, bl := range blocks {
		for _, l := range lines[prev : bl.sep+1] {
			b.WriteString(l + "\n")
		}
		out := outs[i]
		framed := false
		for _, l := range splitLines(out) {
			framed = framed || blank(l)
		}
		if framed {
			b.WriteString("----\n" + out + "----\n----\n")
		} else {
			b.WriteString(out)
		}
		if bl.resumeAt < len(lines) && !blank(lines[bl.resumeAt]) {
			b.WriteString("\n")
		}
		prev = bl.resumeAt
	}
	for _, l := range lines[prev:] {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// CmdLine is the command line as parsed (for messages).
func (d *TestData) CmdLine() string {
	s := d.Cmd
	for _, a := range d.CmdArgs {
		s += " " + a.String()
	}
	return s
}

// Fatalf fails the test with the block's position and command in front of the message.
func (d *TestData) Fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf("%s: %s: %s", d.Pos, d.CmdLine(), fmt.Sprintf(format, args...))
}

// Arg returns the argument with the given key.
func (d *TestData) Arg(key string) (CmdArg, bool) {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return a, true
		}
	}
	return CmdArg{}, false
}

// HasArg reports whether the command has an argument with the given key.
func (d *TestData) HasArg(key string) bool {
	_, ok := d.Arg(key)
	return ok
}

// ScanArgs stores the values of the argument key into dests (see MaybeScanArgs); the
// argument is required.
func (d *TestData) ScanArgs(t testing.TB, key string, dests ...any) {
	t.Helper()
	if !d.MaybeScanArgs(t, key, dests...) {
		d.Fatalf(t, "missing argument %s=", key)
	}
}

// MaybeScanArgs stores the values of the argument key into dests, if it is present, and
// reports whether it was. Each dest takes one value, in order; a single slice dest takes them
// all. Supported: *string, *bool, *int, *int64, *uint64, *uint32, *uint16, *uint8,
// *time.Duration, *[]string, *[]int. Integers accept Go prefixes (0x…).
func (d *TestData) MaybeScanArgs(t testing.TB, key string, dests ...any) bool {
	t.Helper()
	a, ok := d.Arg(key)
	if !ok {
		return false
	}
	if len(dests) == 1 {
		switch p := dests[0].(type) {
		case *[]string:
			*p = append([]string(nil), a.Vals...)
			return true
		case *[]int:
			*p = nil
			for _, v := range a.Vals {
				var n int
				d.scan(t, a, v, &n)
				*p = append(*p, n)
			}
			return true
		}
	}
	if len(a.Vals) != len(dests) {
		d.Fatalf(t, "argument %s: %d values, want %d", key, len(a.Vals), len(dests))
	}
	for i, dest := range dests {
		d.scan(t, a, a.Vals[i], dest)
	}
	return true
}

func (d *TestData) scan(t testing.TB, a CmdArg, v string, dest any) {
	t.Helper()
	var err error
	parseInt := func(bits int) int64 {
		var n int64
		n, err = strconv.ParseInt(v, 0, bits)
		return n
	}
	parseUint := func(bits int) uint64 {
		var n uint64
		n, err = strconv.ParseUint(v, 0, bits)
		return n
	}
	switch p := dest.(type) {
	case *string:
		*p = v
	case *bool:
		*p, err = strconv.ParseBool(v)
	case *int:
		*p = int(parseInt(0))
	case *int64:
		*p = parseInt(64)
	case *uint64:
		*p = parseUint(64)
	case *uint32:
		*p = uint32(parseUint(32))
	case *uint16:
		*p = uint16(parseUint(16))
	case *uint8:
		*p = uint8(parseUint(8))
	case *time.Duration:
		*p, err = time.ParseDuration(v)
	default:
		d.Fatalf(t, "argument %s: unsupported destination %T", a.Key, dest)
	}
	if err != nil {
		d.Fatalf(t, "argument %s: %v", a.Key, err)
	}
}

// Diff is a line diff of want and got: common lines indented by two spaces, lines only in
// want prefixed by "- ", lines only in got by "+ ".
func Diff(want, got string) string {
	a, b := splitLines(want), splitLines(got)
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var s strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			s.WriteString("  " + a[i] + "\n")
			i, j = i+1, j+1
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			s.WriteString("+ " + b[j] + "\n")
			j++
		default:
			s.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return s.String()
}
