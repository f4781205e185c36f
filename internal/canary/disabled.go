//go:build !canary

package canary

// Enabled reports whether this is a canary build (-tags canary). Here it is not: every
// canary.Enabled && … check is a constant false.
const Enabled = false

func init() { fromEnv() }

// On reports whether canary k is selected: never without -tags canary.
func On(Kind) bool { return false }

// Selected returns the canary in force: None without -tags canary.
func Selected() Kind { return None }

// Set selects canary k; without -tags canary only None can be, and Set panics for any other.
func Set(k Kind) Kind {
	if k != None {
		panic("canary: " + k.String() + " needs a build with -tags canary")
	}
	return None
}
