// Package msgmark gives package msgr the byte of bookkeeping that package wire keeps in every
// Message for it (which messages the messenger lends and recycles, see
// msgr.Messenger.NewMessage), without making it part of wire's API: wire registers the
// accessor when it is initialised, and only packages under msgr can import this one.
package msgmark

// Of returns the address of the messenger's bookkeeping byte in m, a *wire.Message; package
// wire sets it in its init function, so it is set before any package importing wire runs.
var Of func(m any) *uint8
