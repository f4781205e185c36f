package wire

import (
	"encoding/binary"
	"strconv"
)

// EntityNameLen is the encoded size of an entity_name_t.
const EntityNameLen = 9

// EntityName is Ceph's entity_name_t: an entity type and a number; -1 means "not yet
// assigned" (a client before the monitor gave it a global id).
type EntityName struct {
	Type EntityType
	Num  int64
}

// NewName is a convenience constructor.
func NewName(t EntityType, num int64) EntityName { return EntityName{Type: t, Num: num} }

// String renders the name as "osd.3" or "client.-1".
func (n EntityName) String() string {
	return n.Type.String() + "." + strconv.FormatInt(n.Num, 10)
}

// Encode writes the 9-byte form (u8 type, le64 num) into b.
func (n EntityName) Encode(b []byte) {
	b[0] = byte(n.Type)
	binary.LittleEndian.PutUint64(b[1:EntityNameLen], uint64(n.Num))
}

// DecodeEntityName decodes a 9-byte entity_name_t.
func DecodeEntityName(b []byte) (EntityName, error) {
	if len(b) < EntityNameLen {
		return EntityName{}, short("entity_name_t", EntityNameLen, len(b))
	}
	return EntityName{Type: EntityType(b[0]), Num: int64(binary.LittleEndian.Uint64(b[1:]))}, nil
}
