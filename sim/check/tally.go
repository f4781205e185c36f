package check

// tallyID names one of the invariants evaluated on every message (a dispatch, an ACK, a
// header or SEQ frame written): their evaluations are added up in a tally and given to the
// Counter in bulk (flush), as the Auditor does with its step invariants. Counter.Evaluated
// looks a name up on every call; five calls per dispatch were about 1% of a run.
type tallyID uint8

const (
	tallyCorruptDelivery tallyID = iota
	tallyDuplicate
	tallyLossyOrder
	tallyLosslessOrder
	tallyUnknownMessage
	tallyDropDelivered
	tallyAckUnreceived
	tallyMsgSeq
	tallyAckRegress
	tallySeqExchange
	numTallied
)

// talliedNames are the invariants a tally counts, by tallyID.
var talliedNames = [numTallied]string{
	tallyCorruptDelivery: InvCorruptDelivery,
	tallyDuplicate:       InvDuplicate,
	tallyLossyOrder:      InvLossyOrder,
	tallyLosslessOrder:   InvLosslessOrder,
	tallyUnknownMessage:  InvUnknownMessage,
	tallyDropDelivered:   InvDropDelivered,
	tallyAckUnreceived:   InvAckUnreceived,
	tallyMsgSeq:          InvMsgSeq,
	tallyAckRegress:      InvAckRegress,
	tallySeqExchange:     InvSeqExchange,
}

// tally holds evaluations not yet given to a Counter.
type tally struct {
	n   [numTallied]int
	any bool
}

func (t *tally) add(id tallyID) {
	t.n[id]++
	t.any = true
}

// flush gives the tallied evaluations to c (nil: they are dropped) and empties the tally.
func (t *tally) flush(c Counter) {
	if !t.any {
		return
	}
	t.any = false
	for i, n := range t.n {
		if n > 0 && c != nil {
			c.Evaluated(talliedNames[i], n)
		}
		t.n[i] = 0
	}
}

// FlushCounts gives the evaluations the Checker's recorder (Record) and conformance monitor
// (NewSessions) tallied to their counters: call it before a counter is read. Finish does it
// for the recorder; the Auditor's FlushCounts does it for both.
func (k *Checker) FlushCounts() {
	if k == nil {
		return
	}
	if r := k.rec; r != nil {
		r.tally.flush(r.cov)
	}
	if s := k.sessions; s != nil {
		s.tally.flush(s.cov)
	}
}
