//go:build linux

package cephx_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/msgrsim/msgrsim/msgr/auth/cephx"
	"github.com/msgrsim/msgrsim/msgr/wire"
)

// exchange runs a Go client against the Go auth service; it returns the client's error and
// the session.
func exchange(t *testing.T, mon *cephx.Monitor, c *cephx.Client, now time.Time) (*cephx.MonSession, error) {
	t.Helper()
	return exchangeOver(t, mon.NewSession(), c, now)
}

// The Go auth service and the Go client (checked against a real monitor) agree: global ids,
// the auth ticket, service tickets with and without CEPHX_GET_PRINCIPAL_SESSION_KEY, rotating
// secrets; the tickets open with the service keys the monitor gives daemons, and an
// authorizer built from them passes a daemon's verifier; wrong keys and unknown entities get
// EACCES.
func TestMonitorWithGoClient(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	adminKey, osdKey := key(t, 1), key(t, 2)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{
		{Name: admin, Key: adminKey, Caps: map[string]string{"mon": "allow *", "osd": "allow *"}},
		{Name: wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}, Key: osdKey},
	}}
	mon, err := cephx.NewMonitor(kr, &seeded{3}, 4100, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, separate := range []bool{false, true} {
		c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Separate: separate, Rand: &seeded{4}})
		s, err := exchange(t, mon, c, now)
		if err != nil || !c.Done() || !s.Authenticated() || c.GlobalID() != s.GlobalID() {
			t.Fatalf("separate=%v: %v (done %v, gid %d/%d)", separate, err, c.Done(), c.GlobalID(), s.GlobalID())
		}
		osdTicket, ok := c.Ticket(wire.EntityOSD)
		if !ok || osdTicket.Expires != now.Add(cephx.ServiceTicketTTL) {
			t.Fatalf("OSD ticket %+v", osdTicket)
		}
		if at, _ := c.Ticket(wire.EntityAuth); at.Expires != now.Add(cephx.AuthTicketTTL) {
			t.Errorf("auth ticket expires %v", at.Expires)
		}
		az, err := c.Authorizer(wire.EntityOSD)
		if err != nil {
			t.Fatal(err)
		}
		v := cephx.NewConnVerifier(mon.ServiceKeys(wire.EntityOSD), &seeded{5}, false)
		verdict, _, peer, err := v.Verify(az.Bytes())
		if verdict != cephx.Accept || peer.Ticket.Name != admin || peer.Ticket.GlobalID != c.GlobalID() {
			t.Fatalf("the OSD refuses the ticket: %v %v", verdict, err)
		}
	}
	daemon := cephx.NewClient(cephx.ClientConfig{Name: wire.AuthEntityName{Type: uint32(wire.EntityOSD), ID: "0"}, Key: osdKey, Rand: &seeded{6}})
	s, err := exchange(t, mon, daemon, now)
	if err != nil {
		t.Fatal(err)
	}
	rq, _ := daemon.RequestRotating()
	reply, err := s.Handle(rq, now)
	if err != nil {
		t.Fatal(err)
	}
	if next, err := daemon.Handle(reply, now); err != nil || next != nil {
		t.Fatal(next, err)
	}
	if got, want := daemon.Rotating(), mon.ServiceKeys(wire.EntityOSD).Rotating; len(got.Secrets) != 3 || !got.Secrets[1].Key.Equal(want.Secrets[1].Key) {
		t.Errorf("rotating secrets %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		name wire.AuthEntityName
		key  cephx.Key
	}{{admin, key(t, 9)}, {wire.AuthEntityName{Type: uint32(wire.EntityClient), ID: "nobody"}, adminKey}} {
		c := cephx.NewClient(cephx.ClientConfig{Name: tc.name, Key: tc.key, Rand: &seeded{7}})
		if _, err := exchange(t, mon, c, now); !errors.Is(err, cephx.ErrDenied) {
			t.Errorf("%s with a wrong key: %v, want ErrDenied", tc.name, err)
		}
	}
}

// renew feeds the client's renewal requests to the monitor session until the client is done;
// it returns the request types sent.
func renew(t *testing.T, s *cephx.MonSession, c *cephx.Client, now time.Time) []uint16 {
	t.Helper()
	next, err := c.Renew(now)
	if err != nil {
		t.Fatal(err)
	}
	var sent []uint16
	for i := 0; next != nil; i++ {
		if i > 3 {
			t.Fatal("the renewal does not end")
		}
		req, err := cephx.DecodeRequest(next.AuthPayload)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, req.Type)
		reply, err := s.Handle(next, now)
		if err != nil {
			t.Fatal(err)
		}
		if next, err = c.Handle(reply, now); err != nil {
			t.Fatal(err)
		}
	}
	if !c.Done() {
		t.Fatal("not done after the renewal")
	}
	return sent
}

// Ticket renewal against the Go auth service: nothing is due before three quarters of a
// ticket's validity, the service tickets are due at 45 minutes (1 h tickets) and renewed with
// CEPHX_GET_PRINCIPAL_SESSION_KEY, the auth ticket at 54 h (72 h) with
// CEPHX_GET_AUTH_SESSION_KEY carrying the old ticket; renewed tickets have new session keys and
// later expiries, keep the global id, and pass an OSD's verifier; cephx.Messenger reports the
// same services due for the tickets it was given.
func TestClientRenewal(t *testing.T) {
	t0 := time.Unix(1_750_000_000, 0)
	adminKey := key(t, 1)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: admin, Key: adminKey, Caps: map[string]string{"mon": "allow *", "osd": "allow *"}}}}
	mon, err := cephx.NewMonitor(kr, &seeded{3}, 4100, t0)
	if err != nil {
		t.Fatal(err)
	}
	services := uint32(wire.EntityMon) | uint32(wire.EntityOSD) | uint32(wire.EntityMgr)
	for _, separate := range []bool{false, true} {
		c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Separate: separate, Rand: &seeded{4}})
		if _, err := c.Renew(t0); err == nil {
			t.Fatal("Renew before authenticating did not fail")
		}
		s, err := exchange(t, mon, c, t0)
		if err != nil {
			t.Fatal(err)
		}
		gid := c.GlobalID()
		msgrAuth := cephx.NewMessenger(wire.EntityClient)
		msgrAuth.SetTickets(gid, c.Tickets()...)
		early := t0.Add(45*time.Minute - time.Second)
		if need := c.NeedRenewal(early); need != 0 {
			t.Fatalf("separate=%v: due at %v: %#x", separate, early.Sub(t0), need)
		}
		if next, err := c.Renew(early); next != nil || err != nil {
			t.Fatalf("Renew with nothing due: %v %v", next, err)
		}
		t1 := t0.Add(45 * time.Minute)
		if need, m := c.NeedRenewal(t1), msgrAuth.NeedRenewal(t1); need != services || m != services {
			t.Fatalf("separate=%v: due at 45 min: client %#x, messenger %#x, want %#x", separate, need, m, services)
		}
		oldOSD, _ := c.Ticket(wire.EntityOSD)
		oldAuth, _ := c.Ticket(wire.EntityAuth)
		if sent := renew(t, s, c, t1); len(sent) != 1 || sent[0] != cephx.GetPrincipalSessionKey {
			t.Fatalf("separate=%v: renewal at 45 min sent %#x", separate, sent)
		}
		newOSD, _ := c.Ticket(wire.EntityOSD)
		if newOSD.SessionKey.Equal(oldOSD.SessionKey) || newOSD.Expires != t1.Add(cephx.ServiceTicketTTL) {
			t.Fatalf("separate=%v: the OSD ticket was not renewed: %+v", separate, newOSD)
		}
		if a, _ := c.Ticket(wire.EntityAuth); !a.SessionKey.Equal(oldAuth.SessionKey) {
			t.Fatal("the auth ticket changed with the service tickets")
		}
		if need := c.NeedRenewal(t1); need != 0 || c.GlobalID() != gid {
			t.Fatalf("after renewal: due %#x, global id %d (was %d)", need, c.GlobalID(), gid)
		}
		msgrAuth.SetTickets(c.GlobalID(), c.Tickets()...)
		if m := msgrAuth.NeedRenewal(t1); m != 0 {
			t.Fatalf("the messenger still has %#x due", m)
		}

		t2 := t0.Add(54 * time.Hour)
		if need := c.NeedRenewal(t2); need != services|uint32(wire.EntityAuth) {
			t.Fatalf("due at 54 h: %#x", need)
		}
		want := []uint16{cephx.GetAuthSessionKey}
		if separate {
			want = append(want, cephx.GetPrincipalSessionKey)
		}
		next, err := c.Renew(t2)
		if err != nil {
			t.Fatal(err)
		}
		req, err := cephx.DecodeRequest(next.AuthPayload)
		if err != nil || req.Type != cephx.GetAuthSessionKey || !bytes.Equal(req.Authenticate.OldTicket.Blob, oldAuth.Blob.Blob) {
			t.Fatalf("the auth renewal does not carry the old auth ticket: %v %+v", err, req.Authenticate.OldTicket)
		}
		reply, err := s.Handle(next, t2)
		if err != nil {
			t.Fatal(err)
		}
		sent := []uint16{req.Type}
		if next, err = c.Handle(reply, t2); err != nil {
			t.Fatal(err)
		}
		for next != nil {
			r, _ := cephx.DecodeRequest(next.AuthPayload)
			sent = append(sent, r.Type)
			reply, err := s.Handle(next, t2)
			if err != nil {
				t.Fatal(err)
			}
			if next, err = c.Handle(reply, t2); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(sent, want) || !c.Done() || c.NeedRenewal(t2) != 0 {
			t.Fatalf("separate=%v: auth renewal sent %#x, want %#x; done %v, due %#x", separate, sent, want, c.Done(), c.NeedRenewal(t2))
		}
		if a, _ := c.Ticket(wire.EntityAuth); a.SessionKey.Equal(oldAuth.SessionKey) || a.Expires != t2.Add(cephx.AuthTicketTTL) {
			t.Fatalf("the auth ticket was not renewed: %+v", a)
		}
		az, err := c.Authorizer(wire.EntityOSD)
		if err != nil {
			t.Fatal(err)
		}
		v := cephx.NewConnVerifier(mon.ServiceKeys(wire.EntityOSD), &seeded{5}, false)
		if verdict, _, peer, err := v.Verify(az.Bytes()); verdict != cephx.Accept || peer.Ticket.GlobalID != gid {
			t.Fatalf("the OSD refuses the renewed ticket: %v %v", verdict, err)
		}
	}
}

// TestMonitorRotation: with a short service ticket TTL, a ticket stays good through one
// rotation of the secrets and is refused after the second (its secret is gone); a renewed
// ticket is accepted again.
func TestMonitorRotation(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	adminKey := key(t, 1)
	kr := &cephx.Keyring{Entries: []cephx.KeyringEntry{{Name: admin, Key: adminKey}}}
	mon, err := cephx.NewMonitor(kr, &seeded{7}, 4100, now)
	if err != nil {
		t.Fatal(err)
	}
	mon.SetServiceTicketTTL(100 * time.Millisecond)
	verify := func(c *cephx.Client) cephx.Verdict {
		az, err := c.Authorizer(wire.EntityOSD)
		if err != nil {
			t.Fatal(err)
		}
		v, _, _, _ := cephx.NewConnVerifier(mon, &seeded{8}, false).Verify(az.Bytes())
		return v
	}
	c := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Rand: &seeded{9}})
	if _, err := exchange(t, mon, c, now); err != nil {
		t.Fatal(err)
	}
	if tk, _ := c.Ticket(wire.EntityOSD); tk.Expires != now.Add(100*time.Millisecond) {
		t.Fatalf("OSD ticket expires %v", tk.Expires)
	}
	for i, want := range []cephx.Verdict{cephx.Accept, cephx.Reject} {
		if err := mon.Rotate(now.Add(time.Duration(i+1) * 100 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		if got := verify(c); got != want {
			t.Fatalf("after %d rotations: %v, want %v", i+1, got, want)
		}
	}
	renewed := cephx.NewClient(cephx.ClientConfig{Name: admin, Key: adminKey, Rand: &seeded{10}})
	if _, err := exchange(t, mon, renewed, now.Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := verify(renewed); got != cephx.Accept {
		t.Fatalf("renewed ticket: %v", got)
	}
}
