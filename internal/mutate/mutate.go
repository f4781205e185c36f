// Package mutate enumerates source mutations of Go files with go/ast: small, compilable
// edits (a flipped comparison, a negated if, && for ||, an integer off by one, + for -, a
// deleted assignment or call, a flipped returned bool) that a good test suite should notice.
// scripts/mutate builds and tests each mutant; see docs/testing.md.
//
// A mutation is a byte-range replacement in one file, so applying it needs no printer and
// keeps every other byte (and line number) of the file. Enumeration is deterministic: the
// sites of a file come in source order, and Sample draws from them with a seeded generator.
package mutate

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Site is one mutation: in File, the bytes [Offset, End) (Orig) become Repl.
type Site struct {
	File   string // the path the file was read under
	Line   int    // line of the first mutated byte
	Col    int    // column of the first mutated byte
	Offset int    // byte offset of the mutated range
	End    int    // byte offset just past the mutated range
	Op     string // operator: cmp-boundary, cmp-negate, if-negate, logic-swap, int-plus1, arith-swap, incdec-swap, assign-delete, call-delete, return-bool
	Func   string // the enclosing function (Recv.Name for methods)
	Orig   string // the original text of the range
	Repl   string // its replacement
}

// String is the site's location and edit: file:line: original -> mutated (one line each).
func (s Site) String() string {
	return fmt.Sprintf("%s:%d: %s -> %s", s.File, s.Line, oneLine(s.Orig), oneLine(s.Repl))
}

// Key names the site uniquely and stably (file, offset and operator).
func (s Site) Key() string { return fmt.Sprintf("%s@%d/%s", s.File, s.Offset, s.Op) }

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// Apply returns src with the site's mutation applied. It fails if src does not hold Orig at
// the site's range (the file changed since the sites were enumerated).
func (s Site) Apply(src []byte) ([]byte, error) {
	if s.Offset < 0 || s.End > len(src) || s.Offset > s.End || string(src[s.Offset:s.End]) != s.Orig {
		return nil, fmt.Errorf("mutate: %s: source does not match the site", s.Key())
	}
	out := make([]byte, 0, len(src)+len(s.Repl)-len(s.Orig))
	out = append(out, src[:s.Offset]...)
	out = append(out, s.Repl...)
	return append(out, src[s.End:]...), nil
}

// Filter chooses the functions whose bodies are mutated: it gets the function's name
// (Recv.Name for a method) and reports whether to mutate it. Nil mutates every function.
type Filter func(fn string) bool

// skipFuncs are functions never mutated: their output is only read by people (String,
// logging, tracing, dumps), so a mutation there is equivalent for any behavioural test.
var skipFuncWords = []string{"String", "Trace", "trace", "Log", "log", "Dump", "dump", "Debug", "debug"}

// skipCalls are callees whose call statements are never deleted: logging, tracing and
// coverage probes and observers, which change nothing the code does; panic, whose deletion changes the
// control flow the compiler checks (a missing return).
var skipCallWords = []string{"trace", "Trace", "log", "Log", "Printf", "Println", "debug", "Debug", "reached", "Reached", "probe", "Probe", "observe", "Observe"}

func skippedFunc(name string) bool {
	for _, w := range skipFuncWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// File enumerates the mutation sites of one Go source file, in source order. name is the
// path reported in each Site.
func File(name string, src []byte, keep Filter) ([]Site, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	e := &enum{fset: fset, src: src, name: name}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		fn := fd.Name.Name
		if fd.Recv != nil && len(fd.Recv.List) == 1 {
			fn = recvName(fd.Recv.List[0].Type) + "." + fn
		}
		if skippedFunc(fd.Name.Name) || (keep != nil && !keep(fn)) {
			continue
		}
		e.fn = fn
		e.boolResult = fd.Type.Results != nil && len(fd.Type.Results.List) == 1 &&
			len(fd.Type.Results.List[0].Names) <= 1 && isIdent(fd.Type.Results.List[0].Type, "bool")
		e.walk(fd.Body)
	}
	sort.SliceStable(e.sites, func(i, j int) bool {
		if e.sites[i].Offset != e.sites[j].Offset {
			return e.sites[i].Offset < e.sites[j].Offset
		}
		return e.sites[i].Op < e.sites[j].Op
	})
	return e.sites, nil
}

func recvName(t ast.Expr) string {
	switch t := t.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	}
	return "?"
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

type enum struct {
	fset       *token.FileSet
	src        []byte
	name       string
	fn         string
	boolResult bool
	sites      []Site
}

func (e *enum) add(op string, from, to token.Pos, repl string) {
	off, end := e.fset.Position(from).Offset, e.fset.Position(to).Offset
	p := e.fset.Position(from)
	e.sites = append(e.sites, Site{
		File: e.name, Line: p.Line, Col: p.Column, Offset: off, End: end,
		Op: op, Func: e.fn, Orig: string(e.src[off:end]), Repl: repl,
	})
}

func (e *enum) text(n ast.Node) string {
	return string(e.src[e.fset.Position(n.Pos()).Offset:e.fset.Position(n.End()).Offset])
}

var boundary = map[token.Token]token.Token{token.LSS: token.LEQ, token.LEQ: token.LSS, token.GTR: token.GEQ, token.GEQ: token.GTR}
var negate = map[token.Token]token.Token{
	token.LSS: token.GEQ, token.GEQ: token.LSS, token.GTR: token.LEQ, token.LEQ: token.GTR,
	token.EQL: token.NEQ, token.NEQ: token.EQL,
}

func (e *enum) walk(body ast.Node) {
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			// Closures are mutated as part of their function.
			return true
		case *ast.BinaryExpr:
			e.binary(n)
		case *ast.IfStmt:
			e.add("if-negate", n.Cond.Pos(), n.Cond.End(), "!("+e.text(n.Cond)+")")
		case *ast.BasicLit:
			if n.Kind == token.INT {
				if v, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil && v < 1<<62 {
					e.add("int-plus1", n.Pos(), n.End(), strconv.FormatUint(v+1, 10))
				}
			}
		case *ast.IncDecStmt:
			other := "--"
			if n.Tok == token.DEC {
				other = "++"
			}
			e.add("incdec-swap", n.TokPos, n.TokPos+2, other)
		case *ast.AssignStmt:
			if n.Tok == token.ADD_ASSIGN || n.Tok == token.SUB_ASSIGN {
				repl := "-="
				if n.Tok == token.SUB_ASSIGN {
					repl = "+="
				}
				e.add("arith-swap", n.TokPos, n.TokPos+2, repl)
			}
		case *ast.BlockStmt:
			e.deletions(n.List)
		case *ast.CaseClause:
			e.deletions(n.Body)
		case *ast.CommClause:
			e.deletions(n.Body)
		case *ast.ReturnStmt:
			if e.boolResult && len(n.Results) == 1 {
				r := n.Results[0]
				switch {
				case isIdent(r, "true"):
					e.add("return-bool", r.Pos(), r.End(), "false")
				case isIdent(r, "false"):
					e.add("return-bool", r.Pos(), r.End(), "true")
				default:
					e.add("return-bool", r.Pos(), r.End(), "!("+e.text(r)+")")
				}
			}
		}
		return true
	})
}

// deletions adds the statement deletions of a statement list: an assignment (not a
// declaration) or a call. Wrapped in `if false {}`, the statement still compiles (its
// variables stay used) but never runs.
func (e *enum) deletions(list []ast.Stmt) {
	for _, st := range list {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok != token.DEFINE {
				e.add("assign-delete", st.Pos(), st.End(), "if false { "+e.text(st)+" }")
			}
		case *ast.ExprStmt:
			if call, ok := st.X.(*ast.CallExpr); ok && !skippedCall(call) {
				e.add("call-delete", st.Pos(), st.End(), "if false { "+e.text(st)+" }")
			}
		}
	}
}

func (e *enum) binary(n *ast.BinaryExpr) {
	opEnd := n.OpPos + token.Pos(len(n.Op.String()))
	if to, ok := boundary[n.Op]; ok {
		e.add("cmp-boundary", n.OpPos, opEnd, to.String())
	}
	if to, ok := negate[n.Op]; ok {
		e.add("cmp-negate", n.OpPos, opEnd, to.String())
	}
	switch n.Op {
	case token.LAND:
		e.add("logic-swap", n.OpPos, opEnd, "||")
	case token.LOR:
		e.add("logic-swap", n.OpPos, opEnd, "&&")
	case token.ADD:
		if !isString(n.X) && !isString(n.Y) {
			e.add("arith-swap", n.OpPos, opEnd, "-")
		}
	case token.SUB:
		e.add("arith-swap", n.OpPos, opEnd, "+")
	}
}

func isString(x ast.Expr) bool {
	switch x := x.(type) {
	case *ast.BasicLit:
		return x.Kind == token.STRING || x.Kind == token.CHAR
	case *ast.BinaryExpr:
		return isString(x.X) || isString(x.Y)
	case *ast.ParenExpr:
		return isString(x.X)
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok {
			return isIdent(sel.X, "strconv") || isIdent(sel.X, "fmt") && strings.HasPrefix(sel.Sel.Name, "Sprint")
		}
	}
	return false
}

func skippedCall(c *ast.CallExpr) bool {
	var name string
	switch f := c.Fun.(type) {
	case *ast.Ident:
		name = f.Name
	case *ast.SelectorExpr:
		name = f.Sel.Name
		// Calls on an observer (counters, traces) change nothing the code does.
		if recv, ok := f.X.(*ast.SelectorExpr); ok && (recv.Sel.Name == "obs" || recv.Sel.Name == "watch") {
			return true
		}
	}
	if name == "panic" || name == "" {
		return true
	}
	for _, w := range skipCallWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// Sample returns n sites drawn without replacement from sites with a generator seeded by
// seed, in the order drawn (all of them, shuffled, if n >= len(sites)). The same sites and
// seed give the same sample.
func Sample(sites []Site, n int, seed uint64) []Site {
	r := rand.New(rand.NewPCG(seed, 0x6d757461746521))
	idx := r.Perm(len(sites))
	if n > len(idx) || n < 0 {
		n = len(idx)
	}
	out := make([]Site, n)
	for i := range out {
		out[i] = sites[idx[i]]
	}
	return out
}
