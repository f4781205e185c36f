package mutate

import (
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

const src = `package p

import "fmt"

func f(a, b int, ok bool) bool {
	if a < b && ok {
		a++
	}
	x := a + 1
	b = x - b
	g(x)
	fmt.Printf("%d", x)
	return a == b
}

func g(int) {}

func (t *T) String() string { return fmt.Sprint(1 < 2) }

type T struct{}

func h(n int) bool {
	for i := 0; i < n; i++ {
		traceSomething(i)
	}
	return true
}

func traceSomething(int) {}
`

// edits lists the sites as op:orig->repl, in order.
func edits(sites []Site) []string {
	var out []string
	for _, s := range sites {
		out = append(out, s.Op+":"+s.Orig+"->"+s.Repl)
	}
	return out
}

func TestFileEnumeratesEveryOperator(t *testing.T) {
	sites, err := File("p.go", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"if-negate:a < b && ok->!(a < b && ok)",
		"cmp-boundary:<-><=",
		"cmp-negate:<->>=",
		"logic-swap:&&->||",
		"incdec-swap:++->--",
		"arith-swap:+->-",
		"int-plus1:1->2",
		"assign-delete:b = x - b->if false { b = x - b }",
		"arith-swap:-->+",
		"call-delete:g(x)->if false { g(x) }",
		"return-bool:a == b->!(a == b)",
		"cmp-negate:==->!=",
		// h: the loop's literal, comparison and increment; the trace call is skipped.
		"int-plus1:0->1",
		"cmp-boundary:<-><=",
		"cmp-negate:<->>=",
		"incdec-swap:++->--",
		"return-bool:true->false",
	}
	if got := edits(sites); !reflect.DeepEqual(got, want) {
		t.Errorf("sites:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range sites {
		if s.Func == "T.String" || strings.Contains(s.Orig, "Printf") || strings.Contains(s.Orig, "trace") {
			t.Errorf("site %s in a skipped function or call", s)
		}
	}
}

func TestEveryMutantParsesAndDiffersOnlyInItsRange(t *testing.T) {
	sites, err := File("p.go", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		m, err := s.Apply([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "m.go", m, 0); err != nil {
			t.Errorf("%s: mutant does not parse: %v", s, err)
		}
		if string(m[:s.Offset]) != src[:s.Offset] || string(m[s.Offset+len(s.Repl):]) != src[s.End:] {
			t.Errorf("%s: mutant changes bytes outside its range", s)
		}
		if strings.Count(string(m), "\n") != strings.Count(src, "\n") {
			t.Errorf("%s: mutant moves line numbers", s)
		}
	}
}

func TestDeletionsOnlyOfStatementsInABlock(t *testing.T) {
	const s = `package p
func f(x int) int {
	if y := x; y > 0 {
		x = 1
	}
	for x = 0; x < 3; x = x + 1 {
	}
	switch {
	case x > 0:
		x = 2
	}
	return x
}`
	sites, err := File("p.go", []byte(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	var dels []string
	for _, st := range sites {
		if st.Op == "assign-delete" {
			dels = append(dels, st.Orig)
		}
	}
	// The for loop's init and post statements cannot hold an if; they are not deleted.
	if want := []string{"x = 1", "x = 2"}; !reflect.DeepEqual(dels, want) {
		t.Errorf("deleted assignments %q, want %q", dels, want)
	}
}

func TestFilterAndApplyMismatch(t *testing.T) {
	sites, err := File("p.go", []byte(src), func(fn string) bool { return fn == "h" })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sites {
		if s.Func != "h" {
			t.Errorf("site %s outside the kept function h", s)
		}
	}
	if len(sites) == 0 {
		t.Fatal("no sites in h")
	}
	if _, err := sites[0].Apply([]byte(strings.Replace(src, "i := 0", "ii := 0", 1))); err == nil {
		t.Error("Apply on a changed source did not fail")
	}
}

func TestSampleIsDeterministicAndWithoutReplacement(t *testing.T) {
	sites, err := File("p.go", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Sample(sites, 5, 1), Sample(sites, 5, 1)
	if !reflect.DeepEqual(a, b) {
		t.Error("the same seed drew different samples")
	}
	if reflect.DeepEqual(a, Sample(sites, 5, 2)) {
		t.Error("seeds 1 and 2 drew the same sample")
	}
	seen := map[string]bool{}
	for _, s := range Sample(sites, 1000, 3) {
		if seen[s.Key()] {
			t.Errorf("site %s drawn twice", s.Key())
		}
		seen[s.Key()] = true
	}
	if len(seen) != len(sites) {
		t.Errorf("a sample larger than the sites has %d sites, want all %d", len(seen), len(sites))
	}
}
