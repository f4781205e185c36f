package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// parseFlags parses args with fs; -h prints usage to stdout. Errors are one line on stderr.
func parseFlags(fs *flag.FlagSet, args []string, synopsis string, stdout, stderr io.Writer) (ok bool, code int) {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprintln(stdout, "Usage: "+synopsis)
			fs.PrintDefaults()
			return false, 0
		}
		fmt.Fprintf(stderr, "msgr-node %s: %v\n", fs.Name(), err)
		return false, 2
	}
	return true, 0
}
