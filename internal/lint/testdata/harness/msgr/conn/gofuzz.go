//go:build gofuzz

package conn

import _ "github.com/msgrsim/msgrsim/fuzz/connfuzz"
