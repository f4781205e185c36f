package cephx

import (
	"fmt"

	"github.com/msgrsim/msgrsim/msgr/wire"
)

// A service ticket reply (what cephx_build_service_ticket_reply writes and the client's
// verify_service_ticket_reply reads):
//
//	u8 struct_v 1, le32 count, then per ticket:
//	  le32 service_id, u8 struct_v 1,
//	  encrypted CephXServiceTicket (session key, validity) — with the principal's secret,
//	  u8 ticket_encrypted,
//	  the CephXTicketBlob as a bufferlist — itself encrypted with the client's previous
//	  session key for that service when ticket_encrypted is set.

// Grant is one ticket of a service ticket reply, as the client sees it once decrypted.
type Grant struct {
	Service    uint32 // entity type of the service: EntityMon, EntityOSD, … EntityAuth
	SessionKey Key    // shared with the service for this ticket
	Validity   Utime  // how long the ticket is valid from now
	Blob       TicketBlob
	Encrypted  bool // the blob arrived encrypted with the previous session key
}

// minGrantLen is the smallest encoding of one ticket: service id, version, two empty
// length-prefixed fields and the flag.
const minGrantLen = 4 + 1 + 4 + 1 + 4

// AppendTicketReply appends a service ticket reply to dst. Each grant's ServiceTicket is
// encrypted with principalSecret; its blob is sent in the clear unless encryptWith is
// non-nil, in which case it is encrypted with encryptWith(service).
func AppendTicketReply(dst []byte, principalSecret Key, grants []Grant, encryptWith func(service uint32) (Key, bool)) ([]byte, error) {
	e := encoder{b: dst}
	e.u8(1)
	e.u32(uint32(len(grants)))
	for i := range grants {
		if err := e.grant(&grants[i], principalSecret, encryptWith); err != nil {
			return dst, err
		}
	}
	return e.b, nil
}

func (e *encoder) grant(g *Grant, principalSecret Key, encryptWith func(uint32) (Key, bool)) error {
	e.u32(g.Service)
	e.u8(1)
	st := encoder{}
	st.serviceTicket(&ServiceTicket{SessionKey: g.SessionKey, Validity: g.Validity})
	var err error
	if e.b, err = AppendSealed(e.b, principalSecret, st.b); err != nil {
		return fmt.Errorf("cephx: encrypt the ticket for service %#x: %w", g.Service, err)
	}
	blob := encoder{}
	blob.bytes(g.Blob.AppendEncoded(nil))
	var key Key
	enc := false
	if encryptWith != nil {
		key, enc = encryptWith(g.Service)
	}
	e.bool(enc)
	if !enc {
		e.b = append(e.b, blob.b...)
		return nil
	}
	if e.b, err = AppendSealed(e.b, key, blob.b); err != nil {
		return fmt.Errorf("cephx: encrypt the ticket blob for service %#x: %w", g.Service, err)
	}
	return nil
}

// ticketReply reads a service ticket reply. Each CephXServiceTicket is decrypted with
// principalSecret; an encrypted blob with previous(service), which must then exist.
func (d *decoder) ticketReply(principalSecret Key, previous func(service uint32) (Key, bool)) []Grant {
	d.version("service_ticket_reply.struct_v", 1, 1)
	n := d.count("service_ticket_reply.count", MaxTickets, minGrantLen)
	if d.err != nil {
		return nil
	}
	grants := make([]Grant, 0, n)
	for range n {
		g := d.grant(principalSecret, previous)
		if d.err != nil {
			return nil
		}
		grants = append(grants, g)
	}
	return grants
}

func (d *decoder) grant(principalSecret Key, previous func(uint32) (Key, bool)) Grant {
	g := Grant{Service: d.u32("service_id")}
	d.version("service_ticket.struct_v", 1, 1)
	st := openInto(d, "service_ticket", principalSecret, func(in *decoder) ServiceTicket { return in.serviceTicket() })
	g.SessionKey, g.Validity = st.SessionKey, st.Validity
	g.Encrypted = d.bool("ticket_encrypted")
	if d.err != nil {
		return Grant{}
	}
	if !g.Encrypted {
		g.Blob = d.nested("ticket_blob", func(in *decoder) TicketBlob { return in.ticketBlob() })
		return g
	}
	key, ok := Key{}, false
	if previous != nil {
		key, ok = previous(g.Service)
	}
	if !ok {
		d.malformed("ticket_blob", "encrypted ticket for service %#x and no previous session key", g.Service)
		return Grant{}
	}
	g.Blob = openInto(d, "ticket_blob", key, func(in *decoder) TicketBlob {
		return in.nested("ticket_blob", func(in2 *decoder) TicketBlob { return in2.ticketBlob() })
	})
	return g
}

// nested reads a bufferlist and decodes its contents with f, which must use them exactly.
func nestedDecode[T any](d *decoder, field string, f func(*decoder) T) T {
	var zero T
	b := d.bytes(field)
	if d.err != nil {
		return zero
	}
	in := newDecoder(b, d.what+" "+field)
	v := f(in)
	if err := in.finish(); err != nil {
		d.fail(field, err)
		return zero
	}
	return v
}

func (d *decoder) nested(field string, f func(*decoder) TicketBlob) TicketBlob {
	return nestedDecode(d, field, f)
}

// DecodeTicketReply decodes a service ticket reply that fills b exactly, decrypting with
// principalSecret (and previous, for encrypted blobs; it may be nil).
func DecodeTicketReply(b []byte, principalSecret Key, previous func(service uint32) (Key, bool)) ([]Grant, error) {
	d := newDecoder(b, "service_ticket_reply")
	g := d.ticketReply(principalSecret, previous)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return g, nil
}

// String names a service by its entity type.
func serviceName(service uint32) string {
	if service <= 0xff {
		return wire.EntityType(service).String()
	}
	return fmt.Sprintf("service%#x", service)
}
