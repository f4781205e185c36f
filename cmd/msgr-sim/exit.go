package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Exit status, the same for every subcommand (README: msgr-sim reference).
const (
	exitPass        = 0   // every run passed (and what was asked for was done)
	exitViolation   = 1   // a violation was found or reproduced (budget-exceeded included)
	exitUsage       = 2   // a usage or input error: bad flags, a bad tape, nothing to shrink
	exitIO          = 3   // an I/O or environment error: a file that cannot be read or written
	exitInterrupted = 130 // SIGINT ended a sweep (after printing its partial summary)
)

// exitError is an error with the exit status it maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{exitUsage, fmt.Errorf(format, args...)}
}

func ioError(err error) error { return &exitError{exitIO, err} }

// exitCode is err's exit status: its own, 2 for a flag error, 3 for other I/O errors.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return exitPass
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return exitIO
	}
	return exitUsage
}

// fail reports err on stderr (nothing for -h) and returns its exit status.
func fail(cmd string, err error, stderr io.Writer) int {
	code := exitCode(err)
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "msgr-sim %s: %v\n", cmd, err)
	}
	return code
}

// checkWritable makes sure a file can be created at path before any work is done, without
// leaving anything behind that was not there (an I/O error, exit 3, otherwise).
func checkWritable(path string) error {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return ioError(fmt.Errorf("-o %s: is a directory", path))
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return ioError(fmt.Errorf("-o %s: not writable: %w", path, err))
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".msgr-sim-probe-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the probe's name means nothing to the user
		}
		return ioError(fmt.Errorf("-o %s: cannot write there: %s: %w", path, filepath.Dir(path), err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// openTape opens a tape file: a missing one is an input error (2), one that cannot be read
// an I/O error (3).
func openTape(path string) (*os.File, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageErrorf("-tape %s: no such file", path)
	}
	if err != nil {
		return nil, ioError(err)
	}
	return f, nil
}
