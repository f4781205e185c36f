package cephx

// RotatingSecret is one of a service's rotating secrets (an entry of Ceph's RotatingSecrets
// map: the secret id and an ExpiringCryptoKey).
type RotatingSecret struct {
	ID         uint64
	Key        Key
	Expiration Utime
}

// RotatingSecrets is Ceph's RotatingSecrets: the secrets a service type currently decrypts
// tickets with (Ceph keeps the previous, current and next), in increasing id order as Ceph's
// map encodes them, and the highest id handed out.
type RotatingSecrets struct {
	Secrets []RotatingSecret
	MaxVer  uint64
}

// Lookup returns the secret with the given id.
func (r *RotatingSecrets) Lookup(id uint64) (Key, bool) {
	for i := range r.Secrets {
		if r.Secrets[i].ID == id {
			return r.Secrets[i].Key, true
		}
	}
	return Key{}, false
}

// Current is the secret new tickets are sealed with: the second-lowest id when there are
// three or more, as Ceph's RotatingSecrets::current, else the lowest.
func (r *RotatingSecrets) Current() (RotatingSecret, bool) {
	switch len(r.Secrets) {
	case 0:
		return RotatingSecret{}, false
	case 1:
		return r.Secrets[0], true
	}
	return r.Secrets[1], true
}

// AppendEncoded appends the encoding: u8 struct_v 1, le32 count, per secret le64 id and
// ExpiringCryptoKey (u8 struct_v 1, CryptoKey, utime expiration), then le64 max_ver.
func (r *RotatingSecrets) AppendEncoded(dst []byte) []byte {
	e := encoder{b: dst}
	e.u8(1)
	e.u32(uint32(len(r.Secrets)))
	for _, s := range r.Secrets {
		e.u64(s.ID)
		e.u8(1)
		e.key(s.Key)
		e.utime(s.Expiration)
	}
	e.u64(r.MaxVer)
	return e.b
}

// minRotatingLen: id, version, an empty key and an expiration.
const minRotatingLen = 8 + 1 + 12 + 8

func (d *decoder) rotatingSecrets() RotatingSecrets {
	d.version("RotatingSecrets.struct_v", 1, 1)
	n := d.count("secrets", MaxRotating, minRotatingLen)
	var r RotatingSecrets
	for range n {
		if d.err != nil {
			break
		}
		s := RotatingSecret{ID: d.u64("secret_id")}
		d.version("ExpiringCryptoKey.struct_v", 1, 1)
		s.Key = d.key("key")
		s.Expiration = d.utime("expiration")
		if len(r.Secrets) > 0 && s.ID <= r.Secrets[len(r.Secrets)-1].ID {
			d.malformed("secret_id", "secret ids not increasing: %d after %d", s.ID, r.Secrets[len(r.Secrets)-1].ID)
		}
		r.Secrets = append(r.Secrets, s)
	}
	r.MaxVer = d.u64("max_ver")
	if d.err != nil {
		return RotatingSecrets{}
	}
	return r
}

// DecodeRotatingSecrets decodes a RotatingSecrets plaintext that fills b exactly.
func DecodeRotatingSecrets(b []byte) (RotatingSecrets, error) {
	d := newDecoder(b, "RotatingSecrets")
	r := d.rotatingSecrets()
	if err := d.finish(); err != nil {
		return RotatingSecrets{}, err
	}
	return r, nil
}

// ServiceKeys are the secrets a daemon decrypts the tickets presented to it with (Ceph's
// KeyStore as a RotatingKeyRing): the rotating secrets of its own service type, fetched from
// the monitors with CEPHX_GET_ROTATING_KEY, and optionally the service's own key for tickets
// with SecretIDOwnKey (monitors use the "mon." key that way).
type ServiceKeys struct {
	Service  uint32 // the daemon's entity type: EntityOSD, EntityMgr, EntityMDS, EntityMon
	Rotating RotatingSecrets
	Own      Key // the key of "<type>." if any
}

// Secret returns the secret that decrypts a ticket for service numbered secretID.
func (k *ServiceKeys) Secret(service uint32, secretID uint64) (Key, bool) {
	if service != k.Service {
		return Key{}, false
	}
	if secretID == SecretIDOwnKey {
		return k.Own, !k.Own.IsZero()
	}
	return k.Rotating.Lookup(secretID)
}

// KeyStore finds the secret a service ticket was sealed with.
type KeyStore interface {
	Secret(service uint32, secretID uint64) (Key, bool)
}
