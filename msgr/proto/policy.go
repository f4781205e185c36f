package proto

import "github.com/msgrsim/msgrsim/msgr/wire"

// Policy is how a messenger treats sessions with one type of peer (Ceph's Messenger::Policy).
type Policy struct {
	Lossy                bool // drop the session on any fault; never ACK
	Server               bool // never initiate a reconnect: wait for the peer (STANDBY)
	Standby              bool // keep session state without a socket when idle after a fault
	Resetcheck           bool // detect peer resets and answer RESETSESSION
	RegisterLossyClients bool // register lossy server-side sessions in the address map
	FeaturesSupported    uint64
	FeaturesRequired     uint64
	ThrottlerBytes       int64 // receive throttle in bytes for this peer type (0: none)
	ThrottlerMessages    int64 // receive throttle in messages for this peer type (0: none)
}

func base(required uint64) Policy {
	return Policy{FeaturesSupported: wire.FeaturesAll, FeaturesRequired: required}
}

// DefaultPolicy is Ceph's Policy(): lossless, not a server, resetcheck on.
func DefaultPolicy() Policy {
	p := base(0)
	p.Resetcheck = true
	return p
}

// StatefulServer keeps sessions of clients that come and go (an MDS toward its clients).
func StatefulServer(required uint64) Policy {
	p := base(required)
	p.Server, p.Standby, p.Resetcheck, p.RegisterLossyClients = true, true, true, true
	return p
}

// StatelessServer forgets a client's session on any fault (an OSD or mon toward clients).
func StatelessServer(required uint64) Policy {
	p := base(required)
	p.Lossy, p.Server = true, true
	return p
}

// StatelessRegisteredServer is StatelessServer whose sessions are registered by address.
func StatelessRegisteredServer(required uint64) Policy {
	p := StatelessServer(required)
	p.RegisterLossyClients = true
	return p
}

// LosslessPeer is for peers that both reconnect and never lose messages (OSD↔OSD).
func LosslessPeer(required uint64) Policy {
	p := base(required)
	p.Standby, p.RegisterLossyClients = true, true
	return p
}

// LosslessPeerReuse is LosslessPeer with reset detection (mon↔mon).
func LosslessPeerReuse(required uint64) Policy {
	p := LosslessPeer(required)
	p.Resetcheck = true
	return p
}

// LossyClient is a client that drops its session on faults and reconnects on demand.
func LossyClient(required uint64) Policy {
	p := base(required)
	p.Lossy, p.RegisterLossyClients = true, true
	return p
}

// LosslessClient is a client that never loses messages and reconnects itself.
func LosslessClient(required uint64) Policy {
	p := base(required)
	p.Resetcheck, p.RegisterLossyClients = true, true
	return p
}

// ProtocolVersion is Ceph's get_proto_version: the protocol_version a messenger of type my
// (with cluster protocol cluster) puts in a connect (connect=true) or expects in one.
func ProtocolVersion(my, peer wire.EntityType, cluster uint32, connect bool) uint32 {
	if my == peer {
		return cluster
	}
	t := my
	if connect {
		t = peer
	}
	switch t {
	case wire.EntityOSD:
		return wire.ProtoOSDClient
	case wire.EntityMDS:
		return wire.ProtoMDSClient
	case wire.EntityMon:
		return wire.ProtoMonClient
	}
	return 0
}
