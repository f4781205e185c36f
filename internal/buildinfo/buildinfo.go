package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/msgrsim/msgrsim/internal/canary"
)

// Info describes one build.
type Info struct {
	Module   string   `json:"module"`
	Version  string   `json:"version"`            // the module version ("(devel)" for a work tree)
	Commit   string   `json:"commit,omitempty"`   // vcs.revision ("" when not stamped)
	Modified bool     `json:"modified,omitempty"` // vcs.modified: the work tree had changes
	Tags     []string `json:"tags"`               // build tags, sorted ("canary" on a canary build)
	Go       string   `json:"go"`                 // the Go version that built it
}

// Read returns the running program's build.
func Read() Info {
	info := Info{Module: "github.com/msgrsim/msgrsim", Version: "(devel)", Go: runtime.Version(), Tags: []string{}}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		if bi.Main.Version != "" {
			info.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			info.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			case "-tags":
				info.Tags = append(info.Tags, strings.Split(s.Value, ",")...)
			}
		}
	}
	if canary.Enabled && !slices.Contains(info.Tags, "canary") {
		info.Tags = append(info.Tags, "canary") // test binaries do not always carry -tags
	}
	slices.Sort(info.Tags)
	info.Tags = slices.Compact(info.Tags)
	return info
}

// ShortCommit is the commit's first 12 hex digits, "+dirty" when modified, or "unknown".
func (i Info) ShortCommit() string {
	c := i.Commit
	if c == "" {
		return "unknown"
	}
	c = c[:min(len(c), 12)]
	if i.Modified {
		c += "+dirty"
	}
	return c
}

// String is the one-line description msgr-sim version prints and tapes record.
func (i Info) String() string {
	tags := strings.Join(i.Tags, ",")
	if tags == "" {
		tags = "none"
	}
	return fmt.Sprintf("version=%s commit=%s tags=%s go=%s", i.Version, i.ShortCommit(), tags, i.Go)
}

// ID names the build in file names: the short commit (or "devel") and "canary" on a canary
// build, e.g. "1a2b3c4d5e6f-canary"; only letters, digits, '-' and '.'.
func (i Info) ID() string {
	id := "devel"
	if i.Commit != "" {
		id = i.Commit[:min(len(i.Commit), 12)]
		if i.Modified {
			id += "-dirty"
		}
	}
	if slices.Contains(i.Tags, "canary") {
		id += "-canary"
	}
	return id
}

// Canary reports whether the build carries the canary tag.
func (i Info) Canary() bool { return slices.Contains(i.Tags, "canary") }
