package cephx

import "github.com/msgrsim/msgrsim/msgr/wire"

// SecretIDOwnKey is the secret_id of a ticket encrypted with the service's own key instead of
// a rotating secret (monitors authorize each other that way, with the "mon." key).
const SecretIDOwnKey = ^uint64(0)

// authUIDDefault is CEPH_AUTH_UID_DEFAULT, written where old encodings had an auid.
const authUIDDefault = ^uint64(0)

// CapsInfo is Ceph's AuthCapsInfo: allow_all and the encoded caps (a map of service name to
// cap string, opaque here).
type CapsInfo struct {
	AllowAll bool
	Caps     []byte
}

// Ticket is Ceph's AuthTicket: who the holder is, its global id, when the ticket was made
// and when it expires, its caps for the service, and flags. Encoded with struct_v 2 (which
// carries an obsolete auid, always CEPH_AUTH_UID_DEFAULT).
type Ticket struct {
	Name     wire.AuthEntityName
	GlobalID uint64
	Created  Utime
	Expires  Utime
	Caps     CapsInfo
	Flags    uint32
}

func (e *encoder) ticket(t *Ticket) {
	e.u8(2)
	e.name(t.Name)
	e.u64(t.GlobalID)
	e.u64(authUIDDefault)
	e.utime(t.Created)
	e.utime(t.Expires)
	e.u8(1)
	e.bool(t.Caps.AllowAll)
	e.bytes(t.Caps.Caps)
	e.u32(t.Flags)
}

func (d *decoder) ticket() Ticket {
	v := d.version("AuthTicket.struct_v", 1, 2)
	t := Ticket{Name: d.name("AuthTicket.name"), GlobalID: d.u64("AuthTicket.global_id")}
	if v >= 2 {
		d.u64("AuthTicket.auid")
	}
	t.Created = d.utime("AuthTicket.created")
	t.Expires = d.utime("AuthTicket.expires")
	d.version("AuthCapsInfo.struct_v", 1, 1)
	t.Caps.AllowAll = d.bool("AuthCapsInfo.allow_all")
	t.Caps.Caps = d.bytes("AuthCapsInfo.caps")
	t.Flags = d.u32("AuthTicket.flags")
	return t
}

// TicketBlob is CephXTicketBlob: the ticket a client holds for a service, opaque to the
// client — a ServiceTicketInfo encrypted with the service's rotating secret number SecretID
// (or its own key when SecretID is SecretIDOwnKey).
type TicketBlob struct {
	SecretID uint64
	Blob     []byte
}

// AppendEncoded appends the blob's encoding: u8 struct_v 1, le64 secret_id, bufferlist.
func (b *TicketBlob) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.ticketBlob(b)
	return e.b
}

func (e *encoder) ticketBlob(b *TicketBlob) {
	e.u8(1)
	e.u64(b.SecretID)
	e.bytes(b.Blob)
}

func (d *decoder) ticketBlob() TicketBlob {
	d.version("CephXTicketBlob.struct_v", 1, 1)
	return TicketBlob{SecretID: d.u64("CephXTicketBlob.secret_id"), Blob: d.bytes("CephXTicketBlob.blob")}
}

// DecodeTicketBlob decodes a CephXTicketBlob that fills b exactly. Blob aliases b.
func DecodeTicketBlob(b []byte) (TicketBlob, error) {
	d := newDecoder(b, "CephXTicketBlob")
	t := d.ticketBlob()
	if err := d.finish(); err != nil {
		return TicketBlob{}, err
	}
	return t, nil
}

// ServiceTicketInfo is CephXServiceTicketInfo, what a ticket blob holds once decrypted: the
// ticket and the session key the holder shares with the service.
type ServiceTicketInfo struct {
	Ticket     Ticket
	SessionKey Key
}

func (e *encoder) serviceTicketInfo(t *ServiceTicketInfo) {
	e.u8(1)
	e.ticket(&t.Ticket)
	e.key(t.SessionKey)
}

func (d *decoder) serviceTicketInfo() ServiceTicketInfo {
	d.version("CephXServiceTicketInfo.struct_v", 1, 1)
	return ServiceTicketInfo{Ticket: d.ticket(), SessionKey: d.key("session_key")}
}

// AppendEncoded appends the encoding of the ticket info (the plaintext of a ticket blob).
func (t *ServiceTicketInfo) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.serviceTicketInfo(t)
	return e.b
}

// DecodeServiceTicketInfo decodes a ticket blob's plaintext that fills b exactly.
func DecodeServiceTicketInfo(b []byte) (ServiceTicketInfo, error) {
	d := newDecoder(b, "CephXServiceTicketInfo")
	t := d.serviceTicketInfo()
	if err := d.finish(); err != nil {
		return ServiceTicketInfo{}, err
	}
	return t, nil
}

// SealTicket encrypts info with a service secret into a ticket blob numbered secretID
// (cephx_build_service_ticket_blob).
func SealTicket(info *ServiceTicketInfo, serviceSecret Key, secretID uint64) (TicketBlob, error) {
	e := encoder{}
	e.serviceTicketInfo(info)
	ct, err := Seal(serviceSecret, e.b)
	if err != nil {
		return TicketBlob{}, err
	}
	return TicketBlob{SecretID: secretID, Blob: ct}, nil
}

// OpenTicket decrypts a ticket blob with the service secret it names (cephx_decode_ticket).
// The session key is copied out of the plaintext.
func OpenTicket(blob TicketBlob, serviceSecret Key) (ServiceTicketInfo, error) {
	info, err := decodeSealed(serviceSecret, blob.Blob, "CephXServiceTicketInfo",
		func(d *decoder) ServiceTicketInfo { return d.serviceTicketInfo() })
	if err != nil {
		return ServiceTicketInfo{}, err
	}
	return info, nil
}

// ServiceTicket is CephXServiceTicket, the part of a ticket reply encrypted for the client:
// the session key for the service and how long the ticket is valid.
type ServiceTicket struct {
	SessionKey Key
	Validity   Utime
}

func (e *encoder) serviceTicket(t *ServiceTicket) {
	e.u8(1)
	e.key(t.SessionKey)
	e.utime(t.Validity)
}

func (d *decoder) serviceTicket() ServiceTicket {
	d.version("CephXServiceTicket.struct_v", 1, 1)
	return ServiceTicket{SessionKey: d.key("session_key"), Validity: d.utime("validity")}
}

// AppendEncoded appends the encoding of the service ticket (its plaintext in a ticket reply).
func (t *ServiceTicket) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.serviceTicket(t)
	return e.b
}

// DecodeServiceTicket decodes a CephXServiceTicket plaintext that fills b exactly.
func DecodeServiceTicket(b []byte) (ServiceTicket, error) {
	d := newDecoder(b, "CephXServiceTicket")
	t := d.serviceTicket()
	if err := d.finish(); err != nil {
		return ServiceTicket{}, err
	}
	return t, nil
}
