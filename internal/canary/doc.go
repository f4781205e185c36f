// Package canary is the one switch for the project's deliberate bugs ("canaries"): broken
// builds that prove the checkers catch real bugs. Each canary has a name, a one-line
// description of the bug and the invariants that must catch it (All).
//
// Without the build tag canary, Enabled is a false constant: every check of the form
//
//	canary.Enabled && canary.On(canary.NoRequeue)
//
// is a constant false and compiles away, so the normal build carries no trace of the bugs
// (keep the check in that form, in a small helper per site). With -tags canary the broken
// behaviour is picked at run time, one canary at a time: by Set (the canary tests), or by the
// environment variable MSGRSIM_CANARY=name, read once when the program starts (msgr-sim also
// takes -canary name). With the tag and no canary selected, everything behaves exactly like
// the normal build.
//
// A program built without the tag that finds MSGRSIM_CANARY set exits at start with a message
// saying so: a run that silently ignored it would pass and look like a canary nobody catches.
package canary
