package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/msgrsim/msgrsim/"

// harnessImport says why importing path from the non-test file at rel (slash-separated,
// relative to the module root) is not allowed, or "" when it is. The fuzz harnesses
// (internal/fuzzing and the packages under fuzz/) never reach the production packages under
// msgr/, and the test Host of proto.Conn (msgr/proto/prototest) is used only by tests, by the
// fuzz harnesses and by itself.
func harnessImport(rel, path string) string {
	switch {
	case strings.HasPrefix(rel, "msgr/") && (path == module+"internal/fuzzing" || path == module+"fuzz" ||
		strings.HasPrefix(path, module+"fuzz/")):
		return "a fuzz harness: keep it in fuzz/ and its native targets in _test.go files"
	case path == module+"msgr/proto/prototest" && !strings.HasPrefix(rel, "fuzz/") &&
		!strings.HasPrefix(rel, "msgr/proto/prototest/"):
		return "the test Host of proto.Conn: only tests and fuzz harnesses use it"
	}
	return ""
}

// harnessImports checks the imports of every non-test Go file under root, whatever its build
// tags (the gofuzz entry points included); testdata directories are skipped.
func harnessImports(root string) ([]string, error) {
	var problems []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && p != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if why := harnessImport(rel, path); why != "" {
				problems = append(problems, rel+": imports "+path+": "+why)
			}
		}
		return nil
	})
	sort.Strings(problems)
	return problems, err
}

// No production file imports a fuzz harness or the test Host.
func TestHarnessesStayOutOfProduction(t *testing.T) {
	problems, err := harnessImports("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The import rule has teeth: a tree that breaks it is caught, file by file, and what it
// allows (tests, the harnesses themselves) passes.
func TestHarnessImportsCatchViolations(t *testing.T) {
	problems, err := harnessImports("testdata/harness")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(problems, "\n")
	want := []string{
		"msgr/conn/bad.go: imports " + module + "fuzz/connfuzz",
		"msgr/conn/bad.go: imports " + module + "internal/fuzzing",
		"msgr/conn/gofuzz.go: imports " + module + "fuzz/connfuzz",
		"sim/bad.go: imports " + module + "msgr/proto/prototest",
	}
	if len(problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(problems), len(want), got)
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missed %q; reported:\n%s", w, got)
		}
	}
}
