// Package conn imports what production code must not: caught by TestHarnessImportsCatchViolations.
package conn

import (
	_ "github.com/msgrsim/msgrsim/fuzz/connfuzz"
	_ "github.com/msgrsim/msgrsim/internal/fuzzing"
)
