package conn_test

import (
	_ "github.com/msgrsim/msgrsim/fuzz/connfuzz"
	_ "github.com/msgrsim/msgrsim/internal/fuzzing"
	_ "github.com/msgrsim/msgrsim/msgr/proto/prototest"
)
