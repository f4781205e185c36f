// Package ddtest is a small data-driven test runner in the style of cockroachdb/datadriven
// (used by etcd raft's interaction tests), without the dependency.
//
// A test file is a sequence of blocks:
//
//	# comments start with '#' between blocks
//	command key=value key=(v1,v2) bare
//	optional input lines
//	----
//	expected output
//	<blank line>
//
// Expected output that itself contains blank lines is framed by doubled separators:
//
//	command
//	----
//	----
//	output with
//
//	a blank line
//	----
//	----
//
// RunTest runs every block through a handler and compares what it returns with the expected
// output; a mismatch reports the block's file:line, the command and a line diff. Run the tests
// with -rewrite to regenerate the expected output in place (comments and layout are kept).
package ddtest
