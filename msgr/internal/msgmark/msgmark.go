// Package msgmark gives package msgr the byte of bookkeeping that package wire keeps in every
// Message for it (which messages the messenger lends and recycles, see
// msgr.Messenger.NewMessage), without making it part of wire's API: wire registers where the
// byte is when it is initialised, and only packages under msgr can import this one.
package msgmark

import "unsafe"

// Offset is where the bookkeeping byte is in a wire.Message; package wire sets it in its init
// function, so it is set before any package importing wire runs.
var Offset uintptr

// Of returns the address of the bookkeeping byte of the wire.Message at m.
func Of(m unsafe.Pointer) *uint8 { return (*uint8)(unsafe.Add(m, Offset)) }
