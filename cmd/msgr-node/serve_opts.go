package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
	"github.com/msgrsim/msgrsim/msgr/netio"
	"github.com/msgrsim/msgrsim/msgr/netio/inject"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// limitFlags are serve's limits on what peers may do (0 keeps the messenger's default).
type limitFlags struct {
	maxConns         int
	handshakeTimeout time.Duration
	maxMessage       uint
	maxAuthorizer    uint
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&l.maxConns, "max-conns", 0, fmt.Sprintf("live connections above which accepted sockets are closed (0: %d)", msgr.DefaultMaxConnections))
	fs.DurationVar(&l.handshakeTimeout, "handshake-timeout", 0, "handshake deadline, ms_connection_ready_timeout (0: 10s)")
	fs.UintVar(&l.maxMessage, "max-message-bytes", 0, fmt.Sprintf("largest front+middle+data accepted (0: %d)", wire.DefaultMaxMessageLen))
	fs.UintVar(&l.maxAuthorizer, "max-authorizer-bytes", 0, fmt.Sprintf("largest authorizer accepted (0: %d)", wire.DefaultMaxAuthorizerLen))
}

func (l *limitFlags) apply(cfg *msgr.Config) {
	cfg.MaxConnections = l.maxConns
	cfg.ReadyTimeout = l.handshakeTimeout
	cfg.Limits.MaxMessageLen = uint32(min(l.maxMessage, 1<<32-1))
	cfg.Limits.MaxAuthorizerLen = uint32(min(l.maxAuthorizer, 1<<32-1))
}

// injectFlags are Ceph's ms_inject_* options; all off by default.
type injectFlags struct {
	socketFailures uint64
	internalDelays time.Duration
	delayTypes     string
	delayMax       time.Duration
	delayProb      float64
	seed           uint64
}

func (f *injectFlags) register(fs *flag.FlagSet) {
	fs.Uint64Var(&f.socketFailures, "inject-socket-failures", 0, "ms_inject_socket_failures: fail one socket read or write in N (0: off)")
	fs.DurationVar(&f.internalDelays, "inject-internal-delays", 0, "ms_inject_internal_delays: block at accept, open and replace for this long (0: off)")
	fs.StringVar(&f.delayTypes, "inject-delay-type", "", `ms_inject_delay_type: peer types whose messages are held back, e.g. "client osd"`)
	fs.DurationVar(&f.delayMax, "inject-delay-max", time.Second, "ms_inject_delay_max: longest hold")
	fs.Float64Var(&f.delayProb, "inject-delay-probability", 0, "ms_inject_delay_probability: share of messages held back, 0 to 1")
	fs.Uint64Var(&f.seed, "inject-seed", 1, "seed of the injection decisions")
}

func (f *injectFlags) check() error {
	if f.delayProb < 0 || f.delayProb > 1 {
		return fmt.Errorf("-inject-delay-probability %v: want a number from 0 to 1", f.delayProb)
	}
	_, err := f.types()
	return err
}

func (f *injectFlags) types() ([]wire.EntityType, error) {
	var ts []wire.EntityType
	for _, s := range strings.Fields(f.delayTypes) {
		t, ok := wire.ParseEntityType(s)
		if !ok {
			return nil, fmt.Errorf("-inject-delay-type: unknown entity type %q", s)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// wrap adds socket failures and internal delays to the stack (the stack itself when off).
func (f *injectFlags) wrap(s netio.Stack) netio.Stack {
	return inject.Wrap(s, inject.Options{
		SocketFailures: f.socketFailures, InternalDelays: f.internalDelays, Seed: f.seed,
	})
}

// dispatchDelay is the messenger's InjectDelay (nil when off).
func (f *injectFlags) dispatchDelay() *msgr.InjectDelay {
	ts, _ := f.types()
	if len(ts) == 0 || f.delayProb == 0 || f.delayMax <= 0 {
		return nil
	}
	const den = 1_000_000
	return &msgr.InjectDelay{Types: ts, Probability: netio.Ratio{Num: uint64(f.delayProb * den), Den: den}, Max: f.delayMax}
}
