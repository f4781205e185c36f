package check

// InvMessageFate: the messenger accounts for every message it accepted. A message SendMessage
// took (TraceSend) is reported done with exactly once: acknowledged by the peer (TraceAcked),
// dropped without ever being queued (TraceDrop, or an error from SendMessage), or discarded
// unacknowledged (TraceDiscard: a lossy session's message once written; the queued, requeued
// and unacknowledged messages a session reset, a lossy fault, a mark-down or a shutdown
// throws away). This is the protocol core's contract with its host (proto.Dropper), through
// which the real messenger recycles the messages it lent (Messenger.NewMessage): a message
// never reported is a message that vanished inside the messenger, unseen by the loss checks
// whenever a reset or a close excuses its loss (lossless-loss), and a lent message that never
// goes back to the free list; one reported twice is recycled twice. Checked once every
// messenger has shut down (a shutdown discards what is still queued), over every message but
// those a crashed sender still held (Abandoned): a crash reports nothing. Mutation survivor
// 73 of seed 2 (a Send on a closed core that claimed the message without queueing it) is the
// kind of bug it catches.
const InvMessageFate = "message-fate"

func init() {
	InvariantDoc[InvMessageFate] = "once every messenger has shut down, every message a messenger accepted was reported done with exactly once: acknowledged, dropped (never queued), or discarded unacknowledged (a lossy session's once written; a reset, lossy fault, mark-down or shutdown); a sender's crash excuses what it held"
	AllInvariants = append(AllInvariants, InvMessageFate)
}

// Fates of a message (msgInfo.fates), as the messenger reported them.
const (
	fateAcked     uint8 = 1 << iota // TraceAcked
	fateDropped                     // TraceDrop, or an error from SendMessage
	fateDiscarded                   // TraceDiscard
)

// Discarded records that the messenger discarded message id unacknowledged (TraceDiscard):
// a lossy session wrote it, or a reset, lossy fault, mark-down or shutdown threw it away.
// Only the fate check reads it: the loss checks account a lossless loss by the reset that
// caused it, not by this report.
func (k *Checker) Discarded(id uint64) {
	if info, ok := k.msgs.get(id); ok {
		k.reportFate(info, fateDiscarded)
	}
}

// reportFate notes one report of info's fate. A drop may be reported twice (the TraceDrop of
// a refused SendMessage and the workload's own report of its error); any other second
// report is counted against the message.
func (k *Checker) reportFate(info *msgInfo, f uint8) {
	if info.fates != 0 && (f != fateDropped || info.fates != fateDropped) {
		info.twice = true
	}
	info.fates |= f
}

// Abandoned excuses every message node has sent so far from the fate check: node crashed,
// and its messenger reports nothing of what it still held. Call it when the crash happens,
// before the node's next incarnation sends.
func (k *Checker) Abandoned(node string) {
	for _, key := range k.keys {
		if key.from == node {
			s := k.streams[key]
			s.abandoned = len(s.sent)
		}
	}
}

// FinishFates checks InvMessageFate: call it once every messenger of the run has shut down.
func (k *Checker) FinishFates(now int64) {
	n := 0
	for _, key := range k.keys {
		s := k.streams[key]
		n += len(s.sent)
		for i, id := range s.sent {
			info := k.msgs.of(id)
			switch {
			case info.twice:
				k.violate(InvMessageFate, now, "stream %v: message #%d (id %d) reported done with more than once (%s)",
					key, i, id, fateNames(info.fates))
			case info.fates == 0 && i >= s.abandoned:
				k.violate(InvMessageFate, now, "stream %v: message #%d (id %d) accepted by the sender's messenger and never reported acknowledged, dropped or discarded (dispatched: %v)",
					key, i, id, info.got)
			}
		}
	}
	if r := k.rec; r != nil && r.cov != nil {
		r.cov.Evaluated(InvMessageFate, n)
	}
}

// fateNames lists the fates in f.
func fateNames(f uint8) string {
	s := ""
	for _, x := range []struct {
		f    uint8
		name string
	}{{fateAcked, "acknowledged"}, {fateDropped, "dropped"}, {fateDiscarded, "discarded"}} {
		if f&x.f != 0 {
			if s != "" {
				s += ", "
			}
			s += x.name
		}
	}
	return s
}
