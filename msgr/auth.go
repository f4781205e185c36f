package msgr

import (
	"errors"
	"fmt"
	"io"

	"github.com/msgrsim/msgrsim/msgr/proto"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Auth is a messenger's authentication for msgr1 sessions (Ceph's AuthClient and AuthServer
// for ProtocolV1): Client starts the authorizer exchange of one outgoing connection attempt,
// Server verifies the authorizers presented on one accepted socket, with its challenge state.
// A scheme that signs messages (cephx) returns a Session with the exchange's outcome; every
// message of that session is then signed and checked. Implementations must be safe for
// concurrent use; what Client and Server return is used by one connection at a time. rand is
// the connection's center's random source (deterministic in the simulator): draw randomness
// from it only.
//
// AuthNone is the default; msgr/auth/cephx provides cephx.
type Auth interface {
	Client(peer wire.EntityType, rand io.Reader) ClientAuth
	Server(rand io.Reader) ServerAuth
}

// AuthFeatureRequirer is an optional extension of Auth: the features a peer must have to
// present an authorizer of a protocol (Ceph's cephx_*_require_signatures and
// cephx_*_require_version). The accept side adds them to the policy's required features for
// that connect message, so that a peer without them is answered FEATURES before its
// authorizer is verified, in Ceph's order (protocol version, features, authorizer).
type AuthFeatureRequirer interface {
	RequiredFeatures(peer wire.EntityType, protocol uint32) uint64
}

// The per-connection parts of an Auth (see package proto).
type (
	// ClientAuth is a connector's side of one authorizer exchange.
	ClientAuth = proto.ClientAuth
	// ServerAuth verifies the authorizers on one accepted socket.
	ServerAuth = proto.ServerAuth
	// AuthVerdict is a ServerAuth's answer to one authorizer.
	AuthVerdict = proto.AuthVerdict
	// AuthSession signs and checks the messages of a session.
	AuthSession = proto.Session
)

// AuthNone is Ceph's auth "none": connectors send the AuthNone authorizer (u8 1, entity name,
// global id) to everything but monitors, which authenticate clients by MAuth messages after
// the session opens; acceptors accept any well-formed AuthNone authorizer and, unless
// RequireAuthorizer is set, an empty one. Nothing is signed and nothing random is drawn.
type AuthNone struct {
	Name              wire.AuthEntityName // who we are, e.g. {EntityClient, "admin"}
	GlobalID          uint64
	RequireAuthorizer bool
	MyType            wire.EntityType
}

// NewAuthNone returns auth none for the entity name, e.g. {EntityMon, "b"} for mon.b (see
// Config.AuthName): its authorizer names the entity by its id, as Ceph's does.
func NewAuthNone(name wire.AuthEntityName) *AuthNone {
	return &AuthNone{Name: name, MyType: wire.EntityType(name.Type)}
}

// Authorizer returns nothing toward a monitor (unless we are one), else the AuthNone blob.
func (a *AuthNone) Authorizer(peer wire.EntityType) (uint32, []byte) {
	if peer == wire.EntityMon && a.MyType != wire.EntityMon {
		return wire.AuthUnknown, nil
	}
	authz := wire.AuthNoneAuthorizer{Name: a.Name, GlobalID: a.GlobalID}
	return wire.AuthNone, authz.AppendEncoded(nil)
}

// Verify accepts an empty authorizer (unless required) and any well-formed AuthNone one.
func (a *AuthNone) Verify(_ wire.EntityType, protocol uint32, blob []byte) int {
	switch {
	case len(blob) == 0 && (protocol == wire.AuthUnknown || protocol == wire.AuthNone):
		if a.RequireAuthorizer {
			return -1
		}
		return 1
	case protocol == wire.AuthNone:
		if _, err := wire.DecodeAuthNoneAuthorizer(blob); err != nil {
			return -1
		}
		return 1
	}
	return -1
}

// Client returns the exchange of one connection attempt: Authorizer's blob, no challenge
// accepted, nothing checked in the reply, no signatures.
func (a *AuthNone) Client(peer wire.EntityType, _ io.Reader) ClientAuth {
	p, b := a.Authorizer(peer)
	return &noneClient{protocol: p, blob: b}
}

// Server returns Verify's rules for one socket; nothing is signed.
func (a *AuthNone) Server(io.Reader) ServerAuth { return noneServer{a} }

// ErrNoChallenge: auth none was challenged (only a cephx acceptor challenges).
var ErrNoChallenge = errors.New("auth none: the peer sent an authorizer challenge")

type noneClient struct {
	protocol uint32
	blob     []byte
}

func (n *noneClient) Authorizer() (uint32, []byte) { return n.protocol, n.blob }

func (n *noneClient) Challenge([]byte) error {
	return fmt.Errorf("%w (authorizer protocol %d)", ErrNoChallenge, n.protocol)
}

func (n *noneClient) Done([]byte) (AuthSession, error) { return nil, nil }

type noneServer struct{ a *AuthNone }

func (s noneServer) Verify(peer wire.EntityType, protocol uint32, blob []byte, _ uint64) AuthVerdict {
	return AuthVerdict{Result: s.a.Verify(peer, protocol, blob)}
}

// randReader reads bytes from a center's deterministic source, 8 at a time.
type randReader struct{ c *Connection }

func (r randReader) Read(p []byte) (int, error) {
	rnd := r.c.center.Rand()
	for i := 0; i < len(p); i += 8 {
		v := rnd.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p), nil
}
