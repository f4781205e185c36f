// Package wire is the msgr1 codec: Ceph's messenger protocol v1 (banner "ceph v027") byte for
// byte. It has no state and does no I/O: every function encodes into a caller's buffer or
// decodes from one.
//
// The layouts (msgr1-protocol.md §1–§5):
//
//	banner           9 B  "ceph v027"
//	entity_addr_t  136 B  le32 0 | le32 nonce | sockaddr_storage (family and port big-endian)
//	connect         33 B  features, host_type, global_seq, connect_seq, protocol_version,
//	                      authorizer_protocol, authorizer_len, flags   (+ authorizer)
//	connect_reply   26 B  tag, features, global_seq, connect_seq, protocol_version,
//	                      authorizer_len, flags                        (+ authorizer, + le64 seq on SEQ)
//	frame             1 B tag, then: MSG header(53) front middle data footer(21 or 13),
//	                      ACK le64, KEEPALIVE2/_ACK timespec(8), KEEPALIVE and CLOSE nothing
//
// All integers are little-endian except inside sockaddr_storage. Checksums are Ceph's crc32c:
// Castagnoli, no pre- or post-inversion (CRC32C).
//
// Beyond the fixed structures: DecodeAddr and EntityAddr.AppendEncoded handle the new-style
// (MSG_ADDR2) address found in payloads; payload.go has the fronts a client exchanges with a
// monitor first (MAuth, MAuthReply, the AuthNone request and authorizer); frame.go encodes and
// decodes whole frames.
//
// The conversation grammar — which structure comes next in a client's or a server's stream:
// greetings, connect rounds until a reply that is not RETRY_*, RESETSESSION or
// CHALLENGE_AUTHORIZER, the in_seq after SEQ, session frames, the footer size both sides'
// features imply (OldFooterFor) — is defined once, by Walker (walk.go). A Walker follows one
// direction as its bytes arrive, in chunks of any size, and reports each element (banner,
// address, connect, reply, authorizer, in_seq, frame tag, ACK seq, timespec, header, front,
// middle, data, footer) with its stream offsets, the frame it ends and, for those that steer
// the grammar, the decoded tag, connect, reply and header; each message's MessageLayout gives
// its inner boundaries and the bytes its crcs protect. It checks structure only and
// allocates nothing per element. What one direction cannot tell — the server's reply to each
// connect, the other side's features — it is told (PeerReply, SetPeerFeatures). Its users:
// the dissector (dissect.go: DissectConversation and Dissect walk frames with it and check
// each with the decoders above), the simulator's frame tracker (cuts at element boundaries,
// corrupts protected bytes) and the protocol core's transcript renderer. The protocol core
// reads with its own state machine but the same decoders and footer rule.
//
// Decoders never panic, return errors that wrap the sentinels of errors.go (errors.Is), and
// check every peer-supplied length against Limits before anything is allocated. Encoders write
// into caller buffers and do not allocate.
package wire
