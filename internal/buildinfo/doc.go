// Package buildinfo says what build of the project is running: the module version, the VCS
// commit and whether the work tree was modified, the build tags (canary among them) and the Go
// version, read from runtime/debug.ReadBuildInfo. msgr-sim records it in tapes and JSON
// summaries so that a run can be traced to the build that made it, and compares it when a
// tape does not reproduce.
package buildinfo
