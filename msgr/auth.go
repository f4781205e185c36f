package msgr

import "github.com/msgrsim/msgrsim/msgr/wire"

// Auth builds the authorizer a connector sends in its connect message and verifies the one
// an acceptor receives (Ceph's AuthClient/AuthServer for msgr1). Implementations must be safe
// for concurrent use. AuthNone is the default; cephx can plug in here.
type Auth interface {
	// Authorizer returns the authorizer protocol and blob to send to a peer of type peer.
	Authorizer(peer wire.EntityType) (protocol uint32, blob []byte)
	// Verify checks a received authorizer: < 0 rejects (BADAUTHORIZER), 0 asks for another
	// round (CHALLENGE_AUTHORIZER), > 0 accepts.
	Verify(peer wire.EntityType, protocol uint32, blob []byte) int
}

// AuthNone is Ceph's auth "none": connectors send the AuthNone authorizer (u8 1, entity name,
// global id) to everything but monitors, which authenticate clients by MAuth messages after
// the session opens; acceptors accept any well-formed AuthNone authorizer and, unless
// RequireAuthorizer is set, an empty one.
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
