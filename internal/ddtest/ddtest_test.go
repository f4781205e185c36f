package ddtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// handler implements the commands of testdata/example.txt.
func handler(t *testing.T, d *TestData) string {
	switch d.Cmd {
	case "echo":
		var words []string
		for _, a := range d.CmdArgs {
			words = append(words, a.Key)
		}
		return strings.Join(words, " ")
	case "sum":
		var a int
		var b []int
		var hex uint32
		d.ScanArgs(t, "a", &a)
		d.ScanArgs(t, "b", &b)
		d.ScanArgs(t, "hex", &hex)
		sum := a + int(hex)
		for _, v := range b {
			sum += v
		}
		return fmt.Sprintf("sum=%d verbose=%v", sum, d.HasArg("verbose"))
	case "upper":
		return strings.ToUpper(d.Input)
	case "lines":
		var n int
		d.ScanArgs(t, "n", &n)
		var s []string
		for i := 1; i <= n; i++ {
			s = append(s, fmt.Sprintf("line %d", i))
		}
		return strings.Join(s, "\n\n")
	case "noop":
		return ""
	}
	d.Fatalf(t, "unknown command")
	return ""
}

func TestRunTest(t *testing.T) {
	RunTest(t, "testdata/example.txt", handler)
}

func TestWalk(t *testing.T) {
	Walk(t, "testdata", handler)
}

// withRewrite runs f with the -rewrite flag set.
func withRewrite(t *testing.T, f func()) {
	old := *rewrite
	*rewrite = true
	defer func() { *rewrite = old }()
	f()
}

func TestRewriteRegeneratesOutput(t *testing.T) {
	want, err := os.ReadFile("testdata/example.txt")
	if err != nil {
		t.Fatal(err)
	}
	// Wrong, missing and misframed outputs; comments and layout must survive the rewrite.
	stale := strings.NewReplacer(
		"hello world\n\n", "stale\n\n",
		"sum=22 verbose=true\n", "",
		"----\n----\nline 1\n\nline 2\n----\n----\n", "----\nold\n",
		"----\nthe end\n", "----\n",
	).Replace(string(want))
	if stale == string(want) {
		t.Fatal("replacements did not apply")
	}
	path := filepath.Join(t.TempDir(), "example.txt")
	if err := os.WriteFile(path, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	withRewrite(t, func() { RunTest(t, path, handler) })
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("rewrite produced:\n%s\ndiff:\n%s", got, Diff(string(want), string(got)))
	}
	// A rewritten file passes.
	RunTest(t, path, handler)
}

func TestMismatchReportsPositionAndDiff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.txt")
	file := "# comment\necho a b\n----\na\n\nupper\nx\n----\nX\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	runTest(t, path, handler, func(m string) { msgs = append(msgs, m) })
	if len(msgs) != 1 {
		t.Fatalf("got %d mismatches, want 1: %q", len(msgs), msgs)
	}
	for _, want := range []string{path + ":2: echo a b", "- a\n", "+ a b\n", "-rewrite"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("mismatch report lacks %q:\n%s", want, msgs[0])
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"echo a\nno separator\n", "f.txt:1: echo: missing ---- separator"},
		{"# c\n\nlines n=1\n----\n----\nline 1\n----\n", "f.txt:3: lines: missing closing ----/----"},
		{"sum b=(1,2\n----\n", "unbalanced parenthesis"},
	} {
		_, err := parse("f.txt", splitLines(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%q) = %v, want an error containing %q", tc.file, err, tc.want)
		}
	}
}

func TestScanArgs(t *testing.T) {
	_, args, err := parseCmd("cmd s=x b=true i=-3 u=0xff d=10ms l=(a, b,c) two=(1,2) bare")
	if err != nil {
		t.Fatal(err)
	}
	d := &TestData{Pos: "f:1", Cmd: "cmd", CmdArgs: args}
	var (
		s    string
		b    bool
		i    int
		u    uint64
		u8   uint8
		dur  time.Duration
		l    []string
		x, y int64
	)
	d.ScanArgs(t, "s", &s)
	d.ScanArgs(t, "b", &b)
	d.ScanArgs(t, "i", &i)
	d.ScanArgs(t, "u", &u)
	d.ScanArgs(t, "u", &u8)
	d.ScanArgs(t, "d", &dur)
	d.ScanArgs(t, "l", &l)
	d.ScanArgs(t, "two", &x, &y)
	if s != "x" || !b || i != -3 || u != 255 || u8 != 255 || dur != 10*time.Millisecond ||
		strings.Join(l, "|") != "a|b|c" || x != 1 || y != 2 {
		t.Fatalf("scanned %q %v %d %d %d %v %q %d %d", s, b, i, u, u8, dur, l, x, y)
	}
	if !d.HasArg("bare") || d.HasArg("missing") || d.MaybeScanArgs(t, "missing", &s) {
		t.Fatal("HasArg/MaybeScanArgs")
	}
	if got := d.CmdLine(); got != "cmd s=x b=true i=-3 u=0xff d=10ms l=(a,b,c) two=(1,2) bare" {
		t.Fatalf("CmdLine %q", got)
	}
}

func TestDiff(t *testing.T) {
	got := Diff("a\nb\nc\n", "a\nx\nc\nd\n")
	want := "  a\n+ x\n- b\n  c\n+ d\n"
	if got != want {
		t.Fatalf("Diff:\n%s\nwant:\n%s", got, want)
	}
}
