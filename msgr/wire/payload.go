package wire

// Message fronts and auth blobs that a msgr1 client exchanges with a monitor before anything
// else (msgr1-protocol.md §5.3–§5.6). Decoders check every length against the remaining bytes
// and a limit before allocating, require the input to be used up exactly (so that anything
// accepted re-encodes to the same bytes), and return byte slices that alias their input.

// Limits on the lengths inside auth payloads. The enclosing front is already bounded by
// Limits.MaxFrontLen; these are tighter sanity bounds for fields that are small in practice.
const (
	MaxAuthMethods   = 32                 // entries in the supported-methods vector of an auth request
	MaxEntityIDLen   = 4096               // bytes in an EntityName id ("admin", "rgw.host1", …)
	MaxAuthBlobLen   = DefaultMaxFrontLen // bytes in an auth payload or auth reply bufferlist
	MaxCephStringLen = DefaultMaxFrontLen // bytes in a string decoded by DecodeCephString
)

// AuthEntityName is Ceph's EntityName as the auth layer encodes it: an le32 entity type and
// an id string, e.g. {EntityClient, "admin"} for client.admin. (The message header carries
// the different entity_name_t, see EntityName.)
type AuthEntityName struct {
	Type uint32
	ID   string
}

// String renders the name as "client.admin".
func (n AuthEntityName) String() string {
	if n.Type <= 0xff {
		return EntityType(n.Type).String() + "." + n.ID
	}
	return "unknown." + n.ID
}

// MAuth is the front of CEPH_MSG_AUTH (type 17): a PaxosServiceMessage header (version,
// session_mon, session_mon_tid) followed by the auth protocol, the auth payload and the
// client's monmap epoch. Header version 1, compat 1.
type MAuth struct {
	Version       uint64 // PaxosServiceMessage version, 0
	SessionMon    int16  // deprecated, -1
	SessionMonTid uint64 // 0
	Protocol      uint32 // AuthUnknown (0) on first contact: the monitor picks a method
	AuthPayload   []byte // e.g. an AuthNoneRequest
	MonmapEpoch   uint32 // epoch of the client's monmap, 0 if none
}

// AppendFront appends the encoded front to dst.
func (m *MAuth) AppendFront(dst []byte) []byte {
	e := encoder{b: dst}
	e.u64(m.Version)
	e.u16(uint16(m.SessionMon))
	e.u64(m.SessionMonTid)
	e.u32(m.Protocol)
	e.bytes(m.AuthPayload)
	e.u32(m.MonmapEpoch)
	return e.b
}

// DecodeMAuth decodes an MAuth front. All fields are required, including monmap_epoch (which
// Ceph treats as optional for very old clients). AuthPayload aliases front.
func DecodeMAuth(front []byte) (MAuth, error) {
	d := decoder{b: front, what: "MAuth"}
	m := MAuth{
		Version:       d.u64("version"),
		SessionMon:    int16(d.u16("session_mon")),
		SessionMonTid: d.u64("session_mon_tid"),
		Protocol:      d.u32("protocol"),
		AuthPayload:   d.bytes("auth_payload", MaxAuthBlobLen),
		MonmapEpoch:   d.u32("monmap_epoch"),
	}
	if err := d.finish(); err != nil {
		return MAuth{}, err
	}
	return m, nil
}

// AuthNoneRequest is the auth payload of a client's first MAuth (protocol 0): u8 struct_v 1,
// vector<u32> of the auth methods it supports (AuthCephx, AuthNone), its EntityName and its
// global_id (0 on first contact).
type AuthNoneRequest struct {
	Methods  []uint32
	Name     AuthEntityName
	GlobalID uint64
}

// AppendEncoded appends the encoded request to dst.
func (r *AuthNoneRequest) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.u8(1)
	e.u32s(r.Methods)
	e.entityName(r.Name)
	e.u64(r.GlobalID)
	return e.b
}

// DecodeAuthNoneRequest decodes the auth payload of a first MAuth. At most MaxAuthMethods
// methods and an id of at most MaxEntityIDLen bytes are accepted.
func DecodeAuthNoneRequest(b []byte) (AuthNoneRequest, error) {
	d := decoder{b: b, what: "auth request"}
	d.expect("struct_v", d.u8("struct_v"), 1)
	r := AuthNoneRequest{
		Methods:  d.u32s("methods", MaxAuthMethods),
		Name:     d.entityName("entity_name"),
		GlobalID: d.u64("global_id"),
	}
	if err := d.finish(); err != nil {
		return AuthNoneRequest{}, err
	}
	return r, nil
}

// AuthNoneAuthorizer is the authorizer a client using auth "none" sends in ceph_msg_connect
// to an OSD, MDS or MGR (authorizer_protocol AuthNone): u8 1 (which doubles as the auth mode
// AUTH_MODE_AUTHORIZER), its EntityName and its global_id.
type AuthNoneAuthorizer struct {
	Name     AuthEntityName
	GlobalID uint64
}

// AppendEncoded appends the encoded authorizer to dst.
func (a *AuthNoneAuthorizer) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.u8(1)
	e.entityName(a.Name)
	e.u64(a.GlobalID)
	return e.b
}

// DecodeAuthNoneAuthorizer decodes an AuthNone authorizer.
func DecodeAuthNoneAuthorizer(b []byte) (AuthNoneAuthorizer, error) {
	d := decoder{b: b, what: "auth none authorizer"}
	d.expect("struct_v", d.u8("struct_v"), 1)
	a := AuthNoneAuthorizer{Name: d.entityName("entity_name"), GlobalID: d.u64("global_id")}
	if err := d.finish(); err != nil {
		return AuthNoneAuthorizer{}, err
	}
	return a, nil
}

// MAuthReply is the front of CEPH_MSG_AUTH_REPLY (type 18). For auth none the monitor answers
// protocol AuthNone, result 0, a newly assigned global id, and empty result_bl and result_msg.
type MAuthReply struct {
	Protocol  uint32
	Result    int32 // 0, or a negative errno
	GlobalID  uint64
	ResultBl  []byte // method-specific reply (cephx tickets); empty for auth none
	ResultMsg string
}

// AppendFront appends the encoded front to dst.
func (m *MAuthReply) AppendFront(dst []byte) []byte {
	e := encoder{b: dst}
	e.u32(m.Protocol)
	e.u32(uint32(m.Result))
	e.u64(m.GlobalID)
	e.bytes(m.ResultBl)
	e.str(m.ResultMsg)
	return e.b
}

// DecodeMAuthReply decodes an MAuthReply front. ResultBl aliases front.
func DecodeMAuthReply(front []byte) (MAuthReply, error) {
	d := decoder{b: front, what: "MAuthReply"}
	m := MAuthReply{
		Protocol:  d.u32("protocol"),
		Result:    int32(d.u32("result")),
		GlobalID:  d.u64("global_id"),
		ResultBl:  d.bytes("result_bl", MaxAuthBlobLen),
		ResultMsg: d.str("result_msg", MaxAuthBlobLen),
	}
	if err := d.finish(); err != nil {
		return MAuthReply{}, err
	}
	return m, nil
}

// AppendCephString appends s as Ceph encodes a std::string: le32 length, then the bytes.
func AppendCephString(dst []byte, s string) []byte {
	e := encoder{b: dst}
	e.str(s)
	return e.b
}

// DecodeCephString decodes a Ceph string (le32 length + bytes, at most MaxCephStringLen bytes)
// from the start of b and returns it with the number of bytes used. The front of the MPing a
// monitor sends back is one such string holding a JSON document; check that n == len(front).
func DecodeCephString(b []byte) (s string, n int, err error) {
	d := decoder{b: b, what: "string"}
	s = d.str("string", MaxCephStringLen)
	if d.err != nil {
		return "", 0, d.err
	}
	return s, d.off, nil
}
