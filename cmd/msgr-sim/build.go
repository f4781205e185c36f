package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/internal/buildinfo"
	"github.com/msgrsim/msgrsim/internal/canary"
	"github.com/msgrsim/msgrsim/sim"
)

// build is this program's build, read once.
var build = buildinfo.Read()

// jsonBuild is the build (and the canary in force) as -json summaries record it.
type jsonBuild struct {
	buildinfo.Info
	Canary string `json:"canary,omitempty"`
}

func thisBuild() jsonBuild { return jsonBuild{Info: build, Canary: canaryName()} }

// canaryName is the canary in force, "" for none.
func canaryName() string {
	if k := canary.Selected(); k != canary.None {
		return k.String()
	}
	return ""
}

// describeBuild is a build as people read it: the tape's build line and canary.
func describeBuild(line, canaryName string) string {
	if line == "" {
		return "unrecorded (a version 1 tape records neither the build nor the canary)"
	}
	if canaryName == "" {
		return line + ", no canary"
	}
	return line + ", canary " + canaryName
}

// program is how the lines msgr-sim prints start: the command that runs this build. With a
// canary in force that is go run with the canary tag (the installed msgr-sim is a normal
// build and would pass).
func program() string {
	if canary.Selected() != canary.None {
		return "go run -tags canary ./cmd/msgr-sim"
	}
	return "msgr-sim"
}

// buildID names this build in artifact file names (commit, canary tag, the canary in force).
func buildID() string {
	id := build.ID()
	if c := canaryName(); c != "" {
		id += "-" + c
	}
	return id
}

func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the build as one JSON line")
	if err := parseFlags(fs, "Usage: msgr-sim version [-json]", args, stdout); err != nil {
		return fail("version", err, stderr)
	}
	if *asJSON {
		b, _ := json.Marshal(thisBuild())
		fmt.Fprintln(stdout, string(b))
		return exitPass
	}
	commit := orUnknown(build.Commit)
	if build.Modified {
		commit += " (modified work tree)"
	}
	fmt.Fprintf(stdout, "msgr-sim %s\nmodule  %s\ncommit  %s\ntags    %s\ngo      %s\n",
		build.Version, build.Module, commit, orNone(strings.Join(build.Tags, ",")), build.Go)
	if c := canaryName(); c != "" {
		fmt.Fprintf(stdout, "canary  %s\n", c)
	}
	return exitPass
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown (not built from a git work tree, or with -buildvcs=false)"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// artifacts is where a command writes what it makes besides its output: porcupine's
// visualizations of failed model checks, the tapes of failing runs.
type artifacts struct {
	dir     string // -artifacts
	created string // the directory chosen, once known
}

func (a *artifacts) register(fs *flag.FlagSet) {
	fs.StringVar(&a.dir, "artifacts", "", "directory for the files a run makes (porcupine pages, tapes of failing runs); default: beside -o, or a new directory under "+os.TempDir())
}

// resolve picks the directory: -artifacts, else the directory of out (the command's -o), else
// a new directory under the OS temp dir, named after the time and the process. Nothing is
// created until something is written there.
func (a *artifacts) resolve(out string) string {
	switch {
	case a.dir != "":
		a.created = a.dir
	case out != "":
		a.created = filepath.Dir(out)
	default:
		a.created = filepath.Join(os.TempDir(), fmt.Sprintf("msgr-sim-%s-%d", time.Now().Format("20060102-150405"), os.Getpid()))
	}
	return a.created
}

// artifactStem starts an artifact's file name: seed, workload and build (porcupine's pages
// add "-fifo.html", "-kv.html"; tapes ".tape").
func artifactStem(seed uint64, workload string) string {
	if workload == "" {
		workload = "default"
	}
	return fmt.Sprintf("seed%d-%s-%s", seed, workload, buildID())
}

// writeTape writes t as an artifact, with this build and canary recorded.
func (a *artifacts) writeTape(t sim.Tape) (string, error) {
	if err := os.MkdirAll(a.created, 0o755); err != nil {
		return "", ioError(err)
	}
	path := filepath.Join(a.created, artifactStem(t.Seed, t.Workload)+".tape")
	return path, writeTapeFile(path, t)
}

// writeTapeFile writes t to path, with this build and canary recorded.
func writeTapeFile(path string, t sim.Tape) error {
	t.Build, t.Canary = build.String(), canaryName()
	f, err := os.Create(path)
	if err != nil {
		return ioError(err)
	}
	_, err = t.WriteTo(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ioError(err)
	}
	return nil
}

// canaryEnabled reports whether this is a canary build.
func canaryEnabled() bool { return canary.Enabled }
