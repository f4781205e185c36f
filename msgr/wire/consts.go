package wire

import "strconv"

// Banner is the msgr1 banner both sides write first. There is no NUL and no newline.
const Banner = "ceph v027"

// Fixed sizes of the msgr1 structures, in bytes.
const (
	BannerLen       = 9
	AddrLen         = 136 // legacy entity_addr_t
	ConnectLen      = 33  // ceph_msg_connect
	ConnectReplyLen = 26  // ceph_msg_connect_reply
	HeaderLen       = 53  // ceph_msg_header
	HeaderCRCLen    = 49  // bytes of the header covered by its crc
	FooterLen       = 21  // ceph_msg_footer (MSG_AUTH negotiated)
	OldFooterLen    = 13  // ceph_msg_footer_old
	TimespecLen     = 8   // ceph_timespec
	SeqLen          = 8   // le64 sequence number (ACK payload, SEQ exchange)

	// ServerGreetingLen is what an acceptor writes first: banner, its address, the peer's address.
	ServerGreetingLen = BannerLen + 2*AddrLen
	// ClientGreetingLen is what a connector writes before its connect message: banner and address.
	ClientGreetingLen = BannerLen + AddrLen
)

// Tag is the one-byte tag of a connect reply or of a frame after the session opened.
type Tag uint8

// Tags (msgr1-protocol.md §2.3).
const (
	TagReady               Tag = 1
	TagResetSession        Tag = 2
	TagWait                Tag = 3
	TagRetrySession        Tag = 4
	TagRetryGlobal         Tag = 5
	TagClose               Tag = 6
	TagMsg                 Tag = 7
	TagAck                 Tag = 8
	TagKeepalive           Tag = 9
	TagBadProtoVer         Tag = 10
	TagBadAuthorizer       Tag = 11
	TagFeatures            Tag = 12
	TagSeq                 Tag = 13
	TagKeepalive2          Tag = 14
	TagKeepalive2Ack       Tag = 15
	TagChallengeAuthorizer Tag = 16
)

var tagNames = [...]string{
	TagReady: "READY", TagResetSession: "RESETSESSION", TagWait: "WAIT",
	TagRetrySession: "RETRY_SESSION", TagRetryGlobal: "RETRY_GLOBAL", TagClose: "CLOSE",
	TagMsg: "MSG", TagAck: "ACK", TagKeepalive: "KEEPALIVE", TagBadProtoVer: "BADPROTOVER",
	TagBadAuthorizer: "BADAUTHORIZER", TagFeatures: "FEATURES", TagSeq: "SEQ",
	TagKeepalive2: "KEEPALIVE2", TagKeepalive2Ack: "KEEPALIVE2_ACK",
	TagChallengeAuthorizer: "CHALLENGE_AUTHORIZER",
}

// Valid reports whether t is one of the 16 defined tags.
func (t Tag) Valid() bool { return t >= TagReady && t <= TagChallengeAuthorizer }

// IsReply reports whether t may appear as the tag of a connect reply.
func (t Tag) IsReply() bool {
	switch t {
	case TagReady, TagResetSession, TagWait, TagRetrySession, TagRetryGlobal,
		TagBadProtoVer, TagBadAuthorizer, TagFeatures, TagSeq, TagChallengeAuthorizer:
		return true
	}
	return false
}

// IsFrame reports whether t may start a frame of an open session.
func (t Tag) IsFrame() bool {
	switch t {
	case TagClose, TagMsg, TagAck, TagKeepalive, TagKeepalive2, TagKeepalive2Ack:
		return true
	}
	return false
}

// String returns the tag's name without the CEPH_MSGR_TAG_ prefix, e.g. "SEQ".
func (t Tag) String() string {
	if t.Valid() {
		return tagNames[t]
	}
	return "TAG(" + strconv.Itoa(int(t)) + ")"
}

// Connect flags.
const ConnectLossy uint8 = 1 // CEPH_MSG_CONNECT_LOSSY

// Message priorities.
const (
	PrioLow     uint16 = 64
	PrioDefault uint16 = 127
	PrioHigh    uint16 = 196
	PrioHighest uint16 = 255
)

// FooterFlags are the flags byte of a message footer.
type FooterFlags uint8

// Footer flags.
const (
	FooterComplete FooterFlags = 1 // the sender finished the message
	FooterNoCRC    FooterFlags = 2 // the sender did not compute the data crc
	FooterSigned   FooterFlags = 4 // defined, unused by msgr1
)

// EntityType is a Ceph entity type (CEPH_ENTITY_TYPE_*).
type EntityType uint8

// Entity types.
const (
	EntityMon    EntityType = 0x01
	EntityMDS    EntityType = 0x02
	EntityOSD    EntityType = 0x04
	EntityClient EntityType = 0x08
	EntityMgr    EntityType = 0x10
	EntityAuth   EntityType = 0x20
	EntityAny    EntityType = 0xff
)

// String returns the type as Ceph prints it in entity names: "mon", "osd", "client", ….
func (t EntityType) String() string {
	switch t {
	case EntityMon:
		return "mon"
	case EntityMDS:
		return "mds"
	case EntityOSD:
		return "osd"
	case EntityClient:
		return "client"
	case EntityMgr:
		return "mgr"
	case EntityAuth:
		return "auth"
	case EntityAny:
		return "any"
	}
	return "unknown" + strconv.Itoa(int(t))
}

// ParseEntityType parses "mon", "osd", … as printed by String.
func ParseEntityType(s string) (EntityType, bool) {
	for _, t := range []EntityType{EntityMon, EntityMDS, EntityOSD, EntityClient, EntityMgr, EntityAuth, EntityAny} {
		if t.String() == s {
			return t, true
		}
	}
	return 0, false
}

// Protocol versions carried in connect and connect_reply (msgr1-protocol.md §2.4).
const (
	ProtoOSDClient uint32 = 24 // CEPH_OSDC_PROTOCOL
	ProtoMDSClient uint32 = 32 // CEPH_MDSC_PROTOCOL
	ProtoMonClient uint32 = 15 // CEPH_MONC_PROTOCOL
	ProtoMonPeer   uint32 = 13 // CEPH_MON_PROTOCOL (mon↔mon)
	ProtoOSDPeer   uint32 = 10 // CEPH_OSD_PROTOCOL (osd↔osd)
	ProtoMDSPeer   uint32 = 36 // CEPH_MDS_PROTOCOL (mds↔mds)
)

// ClusterProtocol is the cluster protocol a Ceph daemon of type t sets on its messengers
// (set_cluster_protocol): the protocol_version it sends to and expects from peers of its own
// type. Monitors 13, OSDs 10, MDS 36; managers and clients never set one (0). The values are
// Pacific 16.2's, read from the Debian binaries (ceph-mon, ceph-osd, ceph-mds, ceph-mgr).
func ClusterProtocol(t EntityType) uint32 {
	switch t {
	case EntityMon:
		return ProtoMonPeer
	case EntityOSD:
		return ProtoOSDPeer
	case EntityMDS:
		return ProtoMDSPeer
	}
	return 0
}

// Auth protocols (authorizer_protocol, MAuth protocol).
const (
	AuthUnknown uint32 = 0
	AuthNone    uint32 = 1
	AuthCephx   uint32 = 2
)

// Feature bits relevant to msgr1 (ceph_features.h). A feature with a non-zero incarnation is
// only "had" when the incarnation bits are set too (HAVE_FEATURE); see FeatureMask*.
const (
	FeatureUID                uint64 = 1 << 0
	FeatureNoSrcAddr          uint64 = 1 << 1
	FeatureServerNautilus     uint64 = 1 << 2
	FeatureReconnectSeq       uint64 = 1 << 6
	FeaturePGID64             uint64 = 1 << 9
	FeatureOSDReplyMux        uint64 = 1 << 12
	FeatureOSDEnc             uint64 = 1 << 13
	FeatureServerLuminous     uint64 = 1 << 21
	FeatureMsgAuth            uint64 = 1 << 23
	FeatureServerMimic        uint64 = 1 << 28
	FeatureMsgrKeepalive2     uint64 = 1 << 42
	FeatureServerJewel        uint64 = 1 << 57
	FeatureMsgAddr2           uint64 = 1 << 59
	FeatureCephxV2            uint64 = 1 << 61
	featureIncarnation2              = FeatureServerJewel
	featureIncarnation3              = FeatureServerJewel | FeatureServerMimic
	FeatureMaskServerLuminous        = FeatureServerLuminous | featureIncarnation2
	FeatureMaskServerNautilus        = FeatureServerNautilus | featureIncarnation3

	// FeaturesAll is what Ceph Pacific 16.2 daemons and clients advertise (seen on the wire).
	FeaturesAll uint64 = 0x3f01cfbdfffdffff
)

// HasFeatures reports whether features contains every bit of mask.
func HasFeatures(features, mask uint64) bool { return features&mask == mask }

// Message types used by this project (msgr1-protocol.md §5.2).
const (
	MsgShutdown      uint16 = 1
	MsgPing          uint16 = 2
	MsgMonMap        uint16 = 4
	MsgMonSubscribe  uint16 = 15
	MsgAuth          uint16 = 17
	MsgAuthReply     uint16 = 18
	MsgOSDMap        uint16 = 41
	MsgOSDOp         uint16 = 42
	MsgOSDOpReply    uint16 = 43
	MsgMonCommand    uint16 = 50
	MsgMonCommandAck uint16 = 51
	MsgConfig        uint16 = 62
	MsgOSDPing       uint16 = 70
	MsgCommand       uint16 = 97
	MsgCommandReply  uint16 = 98
	MsgMgrMap        uint16 = 0x704
)
