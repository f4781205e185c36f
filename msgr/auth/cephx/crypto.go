package cephx

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// Ceph's cipher: AES-128 in CBC mode with a fixed initialisation vector (CEPH_AES_IV), the
// first 16 bytes of the secret as the key, and PKCS#7-style padding that always adds 1..16
// bytes. Decryption removes min(last byte, 16) bytes without checking the padding bytes (Ceph
// does not, so as to give no padding oracle); what protects the contents is the envelope's
// magic number and the structure decoded behind it.

// aesIV is CEPH_AES_IV.
var aesIV = []byte("cephsageyudagreg")

// encMagic is AUTH_ENC_MAGIC, the number every encrypted cephx envelope starts with.
const encMagic uint64 = 0xff009cad8826aa55

// ErrDecrypt: a ciphertext does not decrypt to a cephx envelope under the key (wrong key,
// tampered or truncated bytes, or not a ciphertext at all).
var ErrDecrypt = errors.New("cephx: decryption failed")

// Encrypt encrypts plaintext with key as Ceph's CryptoKey::encrypt does.
func Encrypt(key Key, plaintext []byte) ([]byte, error) {
	if err := key.usable(); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key.Secret[:AESKeyLen])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	out := make([]byte, len(plaintext)+pad)
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, aesIV).CryptBlocks(out, out)
	return out, nil
}

// Decrypt decrypts ciphertext with key as Ceph's CryptoKey::decrypt does: the length must be
// a non-zero multiple of 16; min(last byte, 16) bytes of padding are dropped.
func Decrypt(key Key, ciphertext []byte) ([]byte, error) {
	if err := key.usable(); err != nil {
		return nil, err
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d-byte ciphertext is not a non-zero multiple of %d", ErrDecrypt,
			len(ciphertext), aes.BlockSize)
	}
	block, err := aes.NewCipher(key.Secret[:AESKeyLen])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	out := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, aesIV).CryptBlocks(out, ciphertext)
	pad := min(int(out[len(out)-1]), aes.BlockSize)
	return out[:len(out)-pad], nil
}

// Seal builds Ceph's encrypted envelope (encode_encrypt_enc_bl): u8 struct_v 1, le64
// AUTH_ENC_MAGIC, then payload, all encrypted with key. The result has no length prefix.
func Seal(key Key, payload []byte) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 9+len(payload))}
	e.u8(1)
	e.u64(encMagic)
	e.b = append(e.b, payload...)
	return Encrypt(key, e.b)
}

// AppendSealed appends Ceph's length-prefixed encrypted envelope (encode_encrypt): le32
// length, then Seal(key, payload).
func AppendSealed(dst []byte, key Key, payload []byte) ([]byte, error) {
	ct, err := Seal(key, payload)
	if err != nil {
		return dst, err
	}
	e := encoder{b: dst}
	e.bytes(ct)
	return e.b, nil
}

// Open reverses Seal: it decrypts ciphertext and checks the envelope's version and magic
// number, returning the payload (decode_decrypt_enc_bl).
func Open(key Key, ciphertext []byte) ([]byte, error) {
	pt, err := Decrypt(key, ciphertext)
	if err != nil {
		return nil, err
	}
	d := newDecoder(pt, "encrypted envelope")
	v := d.u8("struct_v")
	magic := d.u64("magic")
	if d.err != nil {
		return nil, fmt.Errorf("%w: %d-byte plaintext", ErrDecrypt, len(pt))
	}
	if magic != encMagic {
		return nil, fmt.Errorf("%w: bad magic %#x", ErrDecrypt, magic)
	}
	_ = v // Ceph reads struct_v and ignores it
	return pt[d.off:], nil
}

// sealed reads a length-prefixed encrypted envelope (decode_decrypt) and returns its payload,
// opened with key. A decryption failure is recorded as the decoder's error, wrapping
// ErrDecrypt.
func (d *decoder) sealed(field string, key Key) []byte {
	ct := d.bytes(field)
	if d.err != nil {
		return nil
	}
	pt, err := Open(key, ct)
	if err != nil {
		d.fail(field, err)
		return nil
	}
	return pt
}

// decodeSealed opens an envelope and decodes its payload with f, which must use it exactly.
func decodeSealed[T any](key Key, ciphertext []byte, what string, f func(*decoder) T) (T, error) {
	var zero T
	pt, err := Open(key, ciphertext)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	d := newDecoder(pt, what)
	v := f(d)
	if err := d.finish(); err != nil {
		return zero, err
	}
	return v, nil
}

// openInto decodes a length-prefixed envelope field of d with f. Errors land in d.
func openInto[T any](d *decoder, field string, key Key, f func(*decoder) T) T {
	var zero T
	pt := d.sealed(field, key)
	if d.err != nil {
		return zero
	}
	inner := newDecoder(pt, d.what+" "+field)
	v := f(inner)
	if err := inner.finish(); err != nil {
		d.fail(field, err)
		return zero
	}
	return v
}

// malformed records a content error at the decoder's position.
func (d *decoder) malformed(field, format string, args ...any) {
	d.fail(field, fmt.Errorf("%w: %s", wire.ErrMalformed, fmt.Sprintf(format, args...)))
}
