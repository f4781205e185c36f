package cephx

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Key types (CEPH_CRYPTO_*).
const (
	KeyNone uint16 = 0 // no crypto; Ceph uses it only for empty placeholder keys
	KeyAES  uint16 = 1 // AES-128-CBC, the only type cephx uses
)

// AESKeyLen is the length of a secret Ceph generates and the part of a secret AES uses.
const AESKeyLen = 16

// Errors about keys. Errors that wrap ErrKey say a key cannot be used to encrypt.
var (
	ErrKey       = errors.New("cephx: unusable key")
	ErrKeyBase64 = errors.New("cephx: bad key encoding")
)

// Utime is Ceph's utime_t as encoded: seconds and nanoseconds, both le32.
type Utime struct {
	Sec  uint32
	Nsec uint32
}

// UtimeOf converts a time to a Utime (seconds truncated to 32 bits, as Ceph does).
func UtimeOf(t time.Time) Utime {
	return Utime{Sec: uint32(t.Unix()), Nsec: uint32(t.Nanosecond())}
}

// Time converts back to a time.Time.
func (u Utime) Time() time.Time { return time.Unix(int64(u.Sec), int64(u.Nsec)) }

// Duration reads the Utime as a span (a ticket's validity).
func (u Utime) Duration() time.Duration {
	return time.Duration(u.Sec)*time.Second + time.Duration(u.Nsec)
}

// IsZero reports whether both fields are zero.
func (u Utime) IsZero() bool { return u == Utime{} }

// Key is Ceph's CryptoKey: a type, the time it was created and the secret. Its encoding is
// le16 type, utime created, le16 length, the secret bytes; keyrings carry that encoding in
// base64.
type Key struct {
	Type    uint16
	Created Utime
	Secret  []byte
}

// NewAESKey draws a fresh 16-byte AES secret from rand (Ceph's CryptoKey::create).
func NewAESKey(rand io.Reader, created Utime) (Key, error) {
	s := make([]byte, AESKeyLen)
	if _, err := io.ReadFull(rand, s); err != nil {
		return Key{}, fmt.Errorf("cephx: draw a key: %w", err)
	}
	return Key{Type: KeyAES, Created: created, Secret: s}, nil
}

// IsZero reports whether the key has no secret (Ceph's empty CryptoKey).
func (k Key) IsZero() bool { return len(k.Secret) == 0 }

// Equal reports whether two keys have the same type and secret (the creation time aside).
func (k Key) Equal(o Key) bool { return k.Type == o.Type && string(k.Secret) == string(o.Secret) }

// usable checks that the key can encrypt: Ceph's AES handler needs at least 16 bytes of
// secret and uses the first 16.
func (k Key) usable() error {
	switch {
	case k.Type != KeyAES:
		return fmt.Errorf("%w: type %d, want AES (%d)", ErrKey, k.Type, KeyAES)
	case len(k.Secret) < AESKeyLen:
		return fmt.Errorf("%w: %d-byte AES secret, want at least %d", ErrKey, len(k.Secret), AESKeyLen)
	}
	return nil
}

// AppendEncoded appends the key's binary encoding to dst.
func (k Key) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.key(k)
	return e.b
}

func (e *encoder) key(k Key) {
	e.u16(k.Type)
	e.utime(k.Created)
	e.u16(uint16(len(k.Secret)))
	e.b = append(e.b, k.Secret...)
}

// key reads a CryptoKey and applies Ceph's checks (CryptoKey::_set_secret): an empty secret is
// accepted with any type; otherwise the type must be NONE or AES, and an AES secret must have
// at least 16 bytes. The secret aliases the input.
func (d *decoder) key(field string) Key {
	k := Key{Type: d.u16(field + ".type"), Created: d.utime(field + ".created")}
	n := int(d.u16(field + ".len"))
	k.Secret = d.take(n, field+".secret")
	if d.err != nil || n == 0 {
		k.Secret = nil
		return k
	}
	switch {
	case k.Type != KeyAES && k.Type != KeyNone:
		d.fail(field, fmt.Errorf("%w: unknown key type %d", wire.ErrMalformed, k.Type))
	case k.Type == KeyAES && n < AESKeyLen:
		d.fail(field, fmt.Errorf("%w: %d-byte AES secret, want at least %d", wire.ErrMalformed, n, AESKeyLen))
	}
	return k
}

// DecodeKey decodes a binary CryptoKey that fills b exactly.
func DecodeKey(b []byte) (Key, error) {
	d := newDecoder(b, "CryptoKey")
	k := d.key("key")
	if err := d.finish(); err != nil {
		return Key{}, err
	}
	return k, nil
}

// String renders the key as a keyring does: base64 of the encoding, padded.
func (k Key) String() string { return base64.StdEncoding.EncodeToString(k.AppendEncoded(nil)) }

// ParseKey decodes a key from its base64 form as Ceph does (CryptoKey::decode_base64 over
// ceph_unarmor): the input is read in groups of four base64 characters, newlines between
// groups are skipped, decoding stops after the first group that ends in padding, and whatever
// follows the decoded CryptoKey is ignored — but the CryptoKey itself must decode and pass
// Ceph's checks (see Key decoding).
func ParseKey(s string) (Key, error) {
	raw, err := unarmor(s)
	if err != nil {
		return Key{}, err
	}
	d := newDecoder(raw, "CryptoKey")
	k := d.key("key")
	if d.err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrKeyBase64, d.err)
	}
	k.Secret = append([]byte(nil), k.Secret...)
	return k, nil
}

// unarmor is Ceph's base64 decoder (common/armor.c): groups of four characters from the
// standard alphabet, '=' counting as zero; a '\n' before a group is skipped; a group with
// '=' in third or fourth place ends the input.
func unarmor(s string) ([]byte, error) {
	out := make([]byte, 0, len(s)*3/4)
	for i := 0; i < len(s); {
		if s[i] == '\n' {
			i++
			continue
		}
		if i+4 > len(s) {
			return nil, fmt.Errorf("%w: %d stray characters at the end", ErrKeyBase64, len(s)-i)
		}
		var v [4]int
		for j := range v {
			if v[j] = armorValue(s[i+j]); v[j] < 0 {
				return nil, fmt.Errorf("%w: character %q at %d", ErrKeyBase64, s[i+j], i+j)
			}
		}
		out = append(out, byte(v[0]<<2|v[1]>>4))
		if s[i+2] == '=' {
			return out, nil
		}
		out = append(out, byte(v[1]<<4|v[2]>>2))
		if s[i+3] == '=' {
			return out, nil
		}
		out = append(out, byte(v[2]<<6|v[3]))
		i += 4
	}
	return out, nil
}

func armorValue(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	case c == '=':
		return 0
	}
	return -1
}
