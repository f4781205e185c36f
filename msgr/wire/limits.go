package wire

import "fmt"

// Limits bound every length a peer can announce. A length over its limit is refused before any
// buffer is allocated. Zero fields mean "use the default".
type Limits struct {
	MaxFrontLen      uint32 // one message front
	MaxMiddleLen     uint32 // one message middle
	MaxDataLen       uint32 // one message data section
	MaxMessageLen    uint32 // front+middle+data together
	MaxAuthorizerLen uint32 // authorizer in connect and connect_reply
}

// Default limits. Ceph itself has none (it allocates what the peer announces); the Linux
// kernel client caps front and middle at 16 MiB. Data is larger because OSD writes carry it.
const (
	DefaultMaxFrontLen      = 16 << 20
	DefaultMaxMiddleLen     = 16 << 20
	DefaultMaxDataLen       = 128 << 20
	DefaultMaxMessageLen    = 160 << 20
	DefaultMaxAuthorizerLen = 4095 // Ceph's client asserts authorizer_len < 4096
)

// DefaultLimits returns the default limits.
func DefaultLimits() Limits { return Limits{}.withDefaults() }

func (l Limits) withDefaults() Limits {
	if l.MaxFrontLen == 0 {
		l.MaxFrontLen = DefaultMaxFrontLen
	}
	if l.MaxMiddleLen == 0 {
		l.MaxMiddleLen = DefaultMaxMiddleLen
	}
	if l.MaxDataLen == 0 {
		l.MaxDataLen = DefaultMaxDataLen
	}
	if l.MaxMessageLen == 0 {
		l.MaxMessageLen = DefaultMaxMessageLen
	}
	if l.MaxAuthorizerLen == 0 {
		l.MaxAuthorizerLen = DefaultMaxAuthorizerLen
	}
	return l
}

// CheckHeader refuses a header whose lengths exceed the limits.
func (l Limits) CheckHeader(h *Header) error {
	if h.FrontLen <= l.MaxFrontLen && h.MiddleLen <= l.MaxMiddleLen && h.DataLen <= l.MaxDataLen &&
		uint64(h.FrontLen)+uint64(h.MiddleLen)+uint64(h.DataLen) <= uint64(l.MaxMessageLen) {
		return nil // within the limits as set (a zero field, the default, is checked below)
	}
	return l.checkHeader(h)
}

// checkHeader is CheckHeader with the defaults filled in.
func (l Limits) checkHeader(h *Header) error {
	l = l.withDefaults()
	switch {
	case h.FrontLen > l.MaxFrontLen:
		return decodeErr("front_len", 22, fmt.Errorf("%w: front_len %d > %d", ErrTooLarge, h.FrontLen, l.MaxFrontLen))
	case h.MiddleLen > l.MaxMiddleLen:
		return decodeErr("middle_len", 26, fmt.Errorf("%w: middle_len %d > %d", ErrTooLarge, h.MiddleLen, l.MaxMiddleLen))
	case h.DataLen > l.MaxDataLen:
		return decodeErr("data_len", 30, fmt.Errorf("%w: data_len %d > %d", ErrTooLarge, h.DataLen, l.MaxDataLen))
	case uint64(h.FrontLen)+uint64(h.MiddleLen)+uint64(h.DataLen) > uint64(l.MaxMessageLen):
		return decodeErr("message length", 22, fmt.Errorf("%w: %d+%d+%d > %d", ErrTooLarge,
			h.FrontLen, h.MiddleLen, h.DataLen, l.MaxMessageLen))
	}
	return nil
}

// CheckAuthorizerLen refuses an authorizer length over the limit.
func (l Limits) CheckAuthorizerLen(n uint32) error {
	l = l.withDefaults()
	if n > l.MaxAuthorizerLen {
		return decodeErr("authorizer_len", 0, fmt.Errorf("%w: authorizer_len %d > %d", ErrTooLarge, n, l.MaxAuthorizerLen))
	}
	return nil
}
