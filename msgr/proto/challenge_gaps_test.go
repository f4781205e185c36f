package proto_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/internal/detrand"
	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/proto/prototest"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// answeringClient is a client authorizer that answers a CHALLENGE_AUTHORIZER (as cephx's
// CEPHX_V2 round does): its next authorizer says so.
type answeringClient struct {
	host     *answeringHost
	answered bool
}

func (a *answeringClient) Authorizer() (uint32, []byte) {
	if a.answered {
		return wire.AuthCephx, []byte("answered")
	}
	return wire.AuthCephx, []byte("first")
}

func (a *answeringClient) Challenge([]byte) error {
	a.answered = true
	a.host.challenges++
	return nil
}

func (a *answeringClient) Done([]byte) (proto.Session, error) { return nil, nil }

// answeringHost is a prototest node whose connection answers challenges.
type answeringHost struct {
	*prototest.Node
	challenges int // challenges answered, over every attempt
}

func (h *answeringHost) ClientAuth(wire.EntityType) proto.ClientAuth {
	return &answeringClient{host: h}
}

// The bound on challenge rounds (maxChallenges, 3) counts one connection attempt's rounds:
// a connector whose attempts each die right after it answered a challenge still opens the
// session on a later attempt that is challenged once more. (Mutation score: mutant 54 kept
// the count across attempts, so the fourth attempt's challenge was refused forever.)
func TestChallengeBoundIsPerAttempt(t *testing.T) {
	w, ma, mb := newLinkWorld(proto.LosslessClient(0), proto.StatefulServer(0))
	mb.Verify = func(_ uint32, authorizer []byte) int {
		if string(authorizer) == "answered" {
			return 1
		}
		return 0 // challenge
	}
	n := w.NewNode("a", ma)
	host := &answeringHost{Node: n}
	n.Target = mb
	n.C = proto.NewConnector(ma.Cfg, host, mb.Addr, mb.Cfg.MyName.Type, ma.PolicyFor(mb.Cfg.MyName.Type), ma.Throttles())
	ma.Registry = n
	n.Started = true
	n.C.Start()
	l := &link{t: t, w: w, rand: detrand.NewSeeded(1), maxChunk: 1 << 20, ma: ma, mb: mb, ha: n, a: n.C}
	sockPeer := wire.LegacyAddr(netip.MustParseAddrPort("10.0.0.1:40000"), 0)
	attempt := func(i int) {
		l.hb = w.NewNode("b", mb)
		l.b = proto.NewAcceptor(mb.Cfg, l.hb, sockPeer)
		l.hb.C = l.b
		l.a.Connected()
		l.b.Start()
		before := host.challenges
		for step := 0; host.challenges == before; step++ {
			if step > 100 {
				t.Fatalf("attempt %d: the connector answered no challenge (a %v, b %v; faults: %s)", i, l.a.State(), l.b.State(), l.faults())
			}
			l.flushAll()
			l.deliver(l.b, &l.aToB)
			l.deliver(l.a, &l.bToA)
		}
	}
	for i := 1; i <= 3; i++ {
		attempt(i)
		// The socket dies after the connector answered the challenge, before any reply.
		l.cut()
		if s := l.a.State(); s != proto.StateStartConnect {
			t.Fatalf("attempt %d: connector in %v after the cut, want START_CONNECT", i, s)
		}
		if err := w.Advance(time.Minute); err != nil { // the reconnect backoff
			t.Fatal(err)
		}
	}
	attempt(4)
	l.run()
	if l.a.State() != proto.StateOpened || l.b.State() != proto.StateOpened {
		t.Fatalf("after four attempts, each challenged once: connector %v, acceptor %v (faults: %s)",
			l.a.State(), l.b.State(), l.faults())
	}
}
