package check

// InvDropDelivered: a message the messenger reported dropping (SendMessage returned an error,
// or a TraceDrop event: sent on a closed connection, left pending when it closed, refused by a
// closed session, or sent locally after the final drain) was dispatched all the same. A drop
// report says the message never entered a send queue, so it can never arrive; a report that
// lies would also excuse a real loss (lossless-loss forgives reported drops). The mutation
// score (scripts/mutate) found the gap: a core that refused every Send went unnoticed.
const InvDropDelivered = "drop-delivered"

func init() {
	InvariantDoc[InvDropDelivered] = "no message the messenger reported dropping (an error from SendMessage, or a TraceDrop event) is ever dispatched: a dropped message never entered a send queue"
	AllInvariants = append(AllInvariants, InvDropDelivered)
}
