package check

// InvTamperedDispatch: a message rewritten in flight by the tamper fault (its front changed and
// its crc recomputed, so every crc checks) was dispatched on a signed session.
const InvTamperedDispatch = "tampered-dispatch"

func init() {
	InvariantDoc[InvTamperedDispatch] = "on a session signed with cephx, no message rewritten in flight (tamper: its front changed and its front crc recomputed, so every crc checks) is ever dispatched: its signature does not match, the connection faults and the message is sent again intact (lossless) or lost (lossy)"
	AllInvariants = append(AllInvariants, InvTamperedDispatch)
}

// Tampered records that message id was rewritten in flight and now carries front.
func (k *Checker) Tampered(id uint64, front []byte) {
	if k.tampered == nil {
		k.tampered = map[uint64][]string{}
	}
	k.tampered[id] = append(k.tampered[id], string(front))
	k.tamperN++
}

// TamperedCount is how many messages were rewritten in flight.
func (k *Checker) TamperedCount() int { return k.tamperN }

// DispatchedTampered checks a message dispatched to receiver incarnation rcv with the given
// front against the tampering of the run: it reports whether the front is one a tamper wrote
// (a clean resend of the same message is not), and a violation when it is and the session
// was signed.
func (k *Checker) DispatchedTampered(rcv string, id uint64, front []byte, signed bool, now int64) bool {
	for _, f := range k.tampered[id] {
		if f != string(front) {
			continue
		}
		if signed {
			k.violate(InvTamperedDispatch, now, "message id %d, rewritten in flight, dispatched to %s on a signed session", id, rcv)
		}
		return true
	}
	return false
}
