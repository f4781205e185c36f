// Package sim imports the test Host: caught by TestHarnessImportsCatchViolations.
package sim

import _ "github.com/msgrsim/msgrsim/msgr/proto/prototest"
