// Package cephx is Ceph's cephx authentication in pure Go (no cgo), as Ceph 16 (Pacific)
// speaks it on msgr1: keys and keyrings, Ceph's crypto, the monitor handshake that gives a
// client its session key and service tickets, the authorizers clients and daemons present to
// services (with the CEPHX_V2 challenge round), and message signatures.
//
// Everything is a pure function or a small state machine: nothing does I/O, reads a clock or
// draws randomness on its own (callers pass an io.Reader and the time), so the package works
// the same in the deterministic simulator as over real sockets.
//
// # Keys and crypto
//
// Key is Ceph's CryptoKey (le16 type, utime created, le16 length, secret), written in
// keyrings as base64; ParseKey decodes that form as Ceph does and Key.String writes it.
// ParseKeyring reads plain-text keyring files with Ceph's INI dialect ("[client.admin]",
// "key = ...", "caps mon = ...").
//
// Encrypt and Decrypt are Ceph's AES-128-CBC (fixed IV "cephsageyudagreg", 1..16 bytes of
// padding always). Seal and Open add and check Ceph's envelope (u8 1, le64 AUTH_ENC_MAGIC,
// payload); AppendSealed writes it with the le32 length prefix most fields carry.
//
// # The monitor handshake (client)
//
// Client drives a client's MAuth exchange with a monitor: the first MAuth offers cephx; the
// monitor answers with a global id and a server challenge; CEPHX_GET_AUTH_SESSION_KEY proves
// the key (ClientProof) and returns the auth ticket and session key, with the other service
// tickets when asked (other_keys); CEPHX_GET_PRINCIPAL_SESSION_KEY (an authorizer for the
// auth service) gets service tickets separately, as Ceph's msgr1 client does;
// CEPHX_GET_ROTATING_KEY gives a daemon the rotating secrets of its service type.
//
// # Authorizers (client and service)
//
// Client.Authorizer (or NewAuthorizer) builds the authorizer for ceph_msg_connect to an OSD,
// MGR or MDS; ClientAuthorizer.AddChallenge answers a CHALLENGE_AUTHORIZER and VerifyReply
// checks the service's reply. On the service side, ConnVerifier (one per connection) opens
// the ticket with the daemon's ServiceKeys (rotating secrets, or the service's own key for
// secret id -1 as monitors use among themselves), checks the global id, challenges the first
// authorizer (CEPHX_V2) and accepts only the answer, which makes recorded authorizers useless
// on another connection.
//
// # Signatures
//
// Sign and CheckSignature compute CephxSessionHandler's signature over the header crc, the
// section crcs (and with CEPHX_V2, the section lengths and seq) with the session key of an
// authorized session. Note that on msgr1 a client's session with a monitor is opened without
// an authorizer and Ceph signs nothing on it; mon<->mon and client/daemon<->OSD, MGR and MDS
// sessions are signed.
//
// Decoders take peer bytes: they check every length against the input and a bound before
// allocating, never panic, and return errors wrapping msgr/wire's sentinels (ErrShort,
// ErrTooLarge, ErrMalformed) or this package's (ErrDecrypt, ErrBadAuthorizer, ErrDenied, …).
// The facts come from Ceph's src/auth/cephx, src/auth/Crypto.cc, src/auth/KeyRing.cc,
// src/common/ConfUtils.cc, src/msg/async/ProtocolV1.cc and the Linux kernel's
// net/ceph/auth_x.c; the tests check them against a real Ceph 16.2.15 monitor and against
// captured cephx conversations (testdata/).
package cephx
