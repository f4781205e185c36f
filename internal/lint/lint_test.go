package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// belowSeam are the packages that must be deterministic.
var belowSeam = []string{
	"github.com/msgrsim/msgrsim/msgr/proto",
	"github.com/msgrsim/msgrsim/msgr/wire",
	"github.com/msgrsim/msgrsim/simnet",
	"github.com/msgrsim/msgrsim/sim",
	"github.com/msgrsim/msgrsim/sim/world",
	"github.com/msgrsim/msgrsim/sim/check",
	"github.com/msgrsim/msgrsim/sim/fault",
	"github.com/msgrsim/msgrsim/sim/harness",
	"github.com/msgrsim/msgrsim/workload/pingpong",
	"github.com/msgrsim/msgrsim/workload/cluster",
	"github.com/msgrsim/msgrsim/workload/synthetic", // runs inside the simulator
	"github.com/msgrsim/msgrsim/workload/synthetic/synthsim",
	"github.com/msgrsim/msgrsim/msgr",            // the messenger runs inside the simulator too
	"github.com/msgrsim/msgrsim/msgr/event",      // its event centers (the production runtime is allowed)
	"github.com/msgrsim/msgrsim/msgr/auth/cephx", // pure cephx: the simulator will run it
	// The test Host of proto.Conn and the fuzz harnesses that drive the core with it: a
	// fuzzer's verdict on an input must not depend on anything but the input.
	"github.com/msgrsim/msgrsim/msgr/proto/prototest",
	"github.com/msgrsim/msgrsim/fuzz/protofuzz",
	"github.com/msgrsim/msgrsim/fuzz/wirefuzz",
	"github.com/msgrsim/msgrsim/fuzz/cephxfuzz",
	"github.com/msgrsim/msgrsim/internal/canary", // consulted by msgr/proto, msgr and workload/cluster
}

// allowed are the places below the seam where production code must do what simulation never
// does: the production runtime starts one goroutine per event center. Keyed by file (relative to
// the module root) and rule; the value says why.
var allowed = map[string]string{
	"msgr/event/runtime.go: go statement":                                "GoRuntime is the production runtime: one goroutine per center (the simulator is the other runtime)",
	"fuzz/wirefuzz/walk.go: imports math/rand/v2 (use internal/detrand)": "FuzzWalk's random chunkings: a PCG seeded by the input, as the walker's tests drew them (detrand's draws differ)",
}

var bannedTime = map[string]bool{
	"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true, "Tick": true,
	"NewTimer": true, "NewTicker": true, "AfterFunc": true,
}

var bannedImports = map[string]string{
	"math/rand":    "use internal/detrand",
	"math/rand/v2": "use internal/detrand",
	"crypto/rand":  "use internal/detrand",
	"github.com/anishathalye/porcupine": "its checker starts goroutines: call models.Check* from a *_postrun.go file, " +
		"after the world stopped",
}

// modelsPkg's Check* functions run porcupine (goroutines): below the seam they may only be
// called from files named *_postrun.go, which run after the simulation has stopped.
const modelsPkg = "github.com/msgrsim/msgrsim/models"

func isModelCheck(info *types.Info, sel *ast.SelectorExpr) bool {
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	pn, ok := info.Uses[id].(*types.PkgName)
	_, isFunc := info.Uses[sel.Sel].(*types.Func)
	return ok && isFunc && pn.Imported().Path() == modelsPkg && strings.HasPrefix(sel.Sel.Name, "Check")
}

func load(t *testing.T, patterns ...string) []*packages.Package {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
		packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports, Dir: "../.."}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("load %s: %v", p.PkgPath, e)
		}
	}
	return pkgs
}

func TestDeterminismRules(t *testing.T) {
	var problems []string
	used := map[string]bool{}
	for _, p := range load(t, belowSeam...) {
		problems = append(problems, dropAllowed(check(p), used)...)
	}
	for key := range allowed { //lint:ordered every stale entry is reported; the order does not matter
		if !used[key] {
			t.Errorf("allowed entry %q excuses nothing any more: remove it", key)
		}
	}
	sort.Strings(problems)
	for _, pr := range problems {
		t.Error(pr)
	}
}

// check reports every rule broken in p's non-test files.
func check(p *packages.Package) []string {
	var out []string
	for _, f := range p.Syntax {
		name := p.Fset.File(f.Pos()).Name()
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		out = append(out, checkImports(p.Fset, f)...)
		out = append(out, checkNodes(p, f, strings.HasSuffix(name, "_postrun.go"))...)
	}
	return out
}

// dropAllowed removes the problems the allowed list excuses, noting in used which entries
// excused one.
func dropAllowed(problems []string, used map[string]bool) []string {
	out := problems[:0]
	for _, pr := range problems {
		key := allowKey(pr)
		if _, ok := allowed[key]; !ok {
			out = append(out, pr)
		} else {
			used[key] = true
		}
	}
	return out
}

// allowKey turns "/abs/path/to/module/msgr/event/runtime.go:32:2: go statement" into
// "msgr/event/runtime.go: go statement".
func allowKey(problem string) string {
	loc, rule, ok := strings.Cut(problem, ": ")
	if !ok {
		return problem
	}
	file, _, _ := strings.Cut(loc, ":")
	if root, err := filepath.Abs("../.."); err == nil {
		if rel, err := filepath.Rel(root, file); err == nil {
			file = filepath.ToSlash(rel)
		}
	}
	return file + ": " + rule
}

func checkImports(fset *token.FileSet, f *ast.File) []string {
	var out []string
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if why, bad := bannedImports[path]; bad {
			out = append(out, fmt.Sprintf("%v: imports %s (%s)", fset.Position(imp.Pos()), path, why))
		}
	}
	return out
}

func checkNodes(p *packages.Package, f *ast.File, postrun bool) []string {
	var out []string
	ordered := orderedLines(p.Fset, f)
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			return false
		}
		pos := p.Fset.Position(n.Pos())
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, fmt.Sprintf("%v: go statement", pos))
		case *ast.SelectStmt:
			if k := commCases(n); k > 1 {
				out = append(out, fmt.Sprintf("%v: select with %d cases", pos, k))
			}
		case *ast.SelectorExpr:
			if isPkgFunc(p.TypesInfo, n, "time", bannedTime) {
				out = append(out, fmt.Sprintf("%v: time.%s", pos, n.Sel.Name))
			}
			if !postrun && isModelCheck(p.TypesInfo, n) {
				out = append(out, fmt.Sprintf("%v: models.%s outside a *_postrun.go file (porcupine starts goroutines)", pos, n.Sel.Name))
			}
		case *ast.RangeStmt:
			if isMap(p.TypesInfo, n.X) && !ordered[pos.Line] && !ordered[pos.Line-1] {
				out = append(out, fmt.Sprintf("%v: range over a map (order is random; sort, or mark //lint:ordered)", pos))
			}
		}
		return true
	})
	return out
}

// commCases counts a select's channel cases: one case and a default is a non-blocking poll,
// which makes no choice between ready channels.
func commCases(n *ast.SelectStmt) int {
	k := 0
	for _, c := range n.Body.List {
		if cc, ok := c.(*ast.CommClause); ok && cc.Comm != nil {
			k++
		}
	}
	return k
}

func isPkgFunc(info *types.Info, sel *ast.SelectorExpr, pkg string, names map[string]bool) bool {
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return false
	}
	pn, ok := info.Uses[id].(*types.PkgName)
	return ok && pn.Imported().Path() == pkg && names[sel.Sel.Name]
}

func isMap(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	if !ok {
		return false
	}
	_, isMap := tv.Type.Underlying().(*types.Map)
	return isMap
}

// orderedLines are the lines carrying a //lint:ordered comment.
func orderedLines(fset *token.FileSet, f *ast.File) map[int]bool {
	lines := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.Contains(c.Text, "lint:ordered") {
				lines[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	return lines
}

// The rules have teeth: a package that breaks each of them is caught.
func TestRulesCatchViolations(t *testing.T) {
	pkgs := load(t, "github.com/msgrsim/msgrsim/internal/lint/testdata/bad")
	got := strings.Join(check(pkgs[0]), "\n")
	for _, want := range []string{"go statement", "time.Now", "time.Sleep", "imports math/rand", "select with 2 cases",
		"range over a map", "models.CheckKV outside a *_postrun.go file", "imports github.com/anishathalye/porcupine"} {
		if !strings.Contains(got, want) {
			t.Errorf("lint missed %q; reported:\n%s", want, got)
		}
	}
	if strings.Count(got, "select with") != 1 {
		t.Errorf("a select with one case and a default should be allowed; reported:\n%s", got)
	}
	if strings.Count(got, "range over a map") != 1 {
		t.Errorf("the //lint:ordered loop should be allowed; reported:\n%s", got)
	}
	if strings.Count(got, "outside a *_postrun.go file") != 1 {
		t.Errorf("models.Check* in a *_postrun.go file should be allowed; reported:\n%s", got)
	}
}
