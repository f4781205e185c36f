package lint

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// mdLink matches a Markdown link or image: [text](target) or ![alt](target), with an optional
// title after the target.
var mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// transcriptName matches the name of a golden transcript of quirk Qn (msgr/proto/testdata).
var transcriptName = regexp.MustCompile(`\bquirk_q[0-9]+_[a-z0-9_]+\.txt\b`)

// inlineCode matches a code span, whose text is not a link.
var inlineCode = regexp.MustCompile("`[^`\n]*`")

// The documentation stays inside the repository: every relative link in a Markdown file
// resolves to a file or directory of the repository (and a #fragment to a heading of the file
// it names), nothing refers to ../shared (which a clone does not have), the README, the
// newcomer's entry point, links to nothing outside the repository, and every quirk transcript
// named is a file of msgr/proto/testdata.
func TestDocLinks(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	files := markdownFiles(t, root)
	if len(files) < 5 {
		t.Fatalf("found only %d Markdown files under %s", len(files), root)
	}
	for _, file := range files {
		rel, _ := filepath.Rel(root, file)
		text := readFile(t, file)
		if strings.Contains(text, "../shared") {
			t.Errorf("%s mentions ../shared, which is not part of the repository", rel)
		}
		for _, name := range transcriptName.FindAllString(text, -1) {
			if _, err := os.Stat(filepath.Join(root, "msgr", "proto", "testdata", name)); err != nil {
				t.Errorf("%s names transcript %s, which msgr/proto/testdata does not have", rel, name)
			}
		}
		for _, target := range links(text) {
			if msg := checkLink(root, file, target, rel == "README.md"); msg != "" {
				t.Errorf("%s: link %q: %s", rel, target, msg)
			}
		}
	}
}

// markdownFiles lists the repository's Markdown files (not .git, not fuzz corpora).
func markdownFiles(t *testing.T, root string) []string {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "fuzz" && filepath.Base(filepath.Dir(path)) == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readFile(t *testing.T, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// links returns the targets of the links in a Markdown text, outside code blocks and spans.
func links(text string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		line = inlineCode.ReplaceAllString(line, "")
		for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// checkLink says what is wrong with a link from file to target ("" when nothing is).
func checkLink(root, file, target string, internalOnly bool) string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		if internalOnly {
			return "the README links only to files in the repository"
		}
		return ""
	}
	path, frag, _ := strings.Cut(target, "#")
	dest := file
	if path != "" {
		dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
	}
	if r, err := filepath.Rel(root, dest); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "points outside the repository"
	}
	if _, err := os.Stat(dest); err != nil {
		return "no such file in the repository"
	}
	if frag != "" && strings.HasSuffix(dest, ".md") && !hasAnchor(dest, frag) {
		return "no heading with that anchor in " + filepath.Base(dest)
	}
	return ""
}

// hasAnchor reports whether a Markdown file has a heading whose GitHub anchor is frag.
func hasAnchor(file, frag string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	fenced := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
		}
		if fenced || !strings.HasPrefix(line, "#") {
			continue
		}
		if anchor(strings.TrimLeft(line, "#")) == frag {
			return true
		}
	}
	return false
}

// anchor is GitHub's anchor for a heading: lower case, letters, digits, '-' and '_' kept,
// spaces turned into '-', everything else dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"The simulator's rooms": "the-simulators-rooms",
		"Real Ceph as a lossless peer: a Go monitor beside a real ceph-mon": "real-ceph-as-a-lossless-peer-a-go-monitor-beside-a-real-ceph-mon",
		"Linearizability models (`models/`)":                                "linearizability-models-models",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// checkLink must fail what it exists to catch.
func TestCheckLinkCatchesBadLinks(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(root, "README.md")
	for target, internal := range map[string]bool{
		"../shared/DESIGN.md":         false,
		"docs/no-such-file.md":        false,
		"docs/design.md#no-such-part": false,
		"https://example.com/":        true,
	} {
		if checkLink(root, readme, target, internal) == "" {
			t.Errorf("checkLink accepted %q", target)
		}
	}
	for _, target := range []string{"docs/design.md", "docs/design.md#layers", "BENCHMARKS.md", "testdata/regressions/"} {
		if msg := checkLink(root, readme, target, true); msg != "" {
			t.Errorf("checkLink refused %q: %s", target, msg)
		}
	}
}
