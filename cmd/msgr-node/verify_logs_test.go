package main

import (
	"flag"
	"testing"
)

var (
	verifyPeerLog = flag.String("verify.peer", "", "TestVerifyLogs: a msgr-node peer log to verify")
	verifyMonLog  = flag.String("verify.mon", "", "TestVerifyLogs: the real mon's log")
	verifyAddr    = flag.String("verify.addr", "", "TestVerifyLogs: the Go peer's address as the mon logs it, e.g. v1:127.0.0.1:6790/0")
)

// TestVerifyLogs verifies the logs of a run made by hand (docs/interop.md):
//
//	go test ./cmd/msgr-node -run TestVerifyLogs -v -verify.peer peer.log -verify.mon ceph-mon.a.log -verify.addr v1:127.0.0.1:6790/0
func TestVerifyLogs(t *testing.T) {
	if *verifyPeerLog == "" {
		t.Skip("no -verify.peer: nothing to verify")
	}
	peer, err := readPeerLog(*verifyPeerLog)
	if err != nil {
		t.Fatal(err)
	}
	mon, err := readMonLog(*verifyMonLog, *verifyAddr)
	if err != nil {
		t.Fatal(err)
	}
	v := verify(peer, mon, nil)
	t.Logf("\n%s", v)
	if len(v.Violations) > 0 {
		t.Fail()
	}
}
