// Command msgr-sim runs seeded, deterministic simulations of Ceph's AsyncMessenger (msgr1)
// over a virtual network. One seed reproduces a run exactly; a tape (the run's decisions
// written down) does too, and can be shrunk to the few decisions that matter.
//
// Usage:
//
//	msgr-sim run      [-seed N] [scenario flags] [-check-determinism] [-json] [-v]
//	msgr-sim sweep    -seeds A-B | -count N [-start S] [-parallel P] [-shard i/n] [scenario flags] [-json] [-require-reach[=ci|probe,…]]
//	msgr-sim replay   -seed N [scenario flags] | -tape FILE [-v] [-full]
//	msgr-sim shrink   -seed N [scenario flags] | -tape FILE -o OUT [-target NAME] [-max-runs N] [-timeout D]
//	msgr-sim timeline -seed N [scenario flags] | -tape FILE -o run.html
//	msgr-sim merge    FILE...
//
// Scenario flags: -faults none|swarm|all|name,… -workload small|default|cluster|large -osds N
// -clients N -messages N (cluster and large run the Ceph-shaped cluster: -messages is the
// operations per client). run -coverage prints the protocol coverage table.
//
// A binary built with -tags canary also takes -canary NAME (or MSGRSIM_CANARY=NAME): it runs
// with that deliberate bug (internal/canary lists them), and its reproduce lines carry the
// flag. Without the tag, -canary is an error.
//
// Exit status: 0 when the runs passed, 1 when an invariant was violated (or sweep -require-reach
// found a required probe never hit), 2 on a usage error.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `msgr-sim: deterministic simulation of Ceph's AsyncMessenger (msgr1)

Usage:
  msgr-sim run [flags]        run one seeded simulation
  msgr-sim sweep [flags]      run many seeds in parallel and summarise the failures
  msgr-sim replay [flags]     replay a seed or a tape and print its trace up to the first violation
  msgr-sim shrink [flags]     turn a failing seed or tape into the smallest tape that still fails
  msgr-sim timeline [flags]   draw a run as a self-contained HTML page
  msgr-sim merge FILE...      combine the JSON summaries of sweep shards

Run "msgr-sim <command> -h" for a command's flags.
`

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Writer, io.Writer) int{
		"run": runCmd, "sweep": sweepCmd, "replay": replayCmd, "shrink": shrinkCmd,
		"timeline": timelineCmd, "merge": mergeCmd,
	}
	if cmd, ok := cmds[args[0]]; ok {
		return cmd(args[1:], stdout, stderr)
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "msgr-sim: unknown command %q\n%s", args[0], usage)
	return 2
}
