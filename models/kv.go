package models

import (
	"fmt"
	"hash/fnv"

	"github.com/anishathalye/porcupine"
)

// KVOpKind is a key-value operation.
type KVOpKind uint8

// Key-value operations.
const (
	KVGet    KVOpKind = iota + 1 // read a key ("" when absent)
	KVPut                        // set a key
	KVAppend                     // append to a key's value
)

func (k KVOpKind) String() string {
	switch k {
	case KVGet:
		return "get"
	case KVPut:
		return "put"
	case KVAppend:
		return "append"
	}
	return fmt.Sprintf("kv-op(%d)", uint8(k))
}

// KVInput is what a client asked.
type KVInput struct {
	Op    KVOpKind
	Key   string
	Value string // put, append
}

// KVOutput is what the client got back. Unknown: no answer ever came (the run ended, or the
// client crashed), so the operation may or may not have taken effect.
type KVOutput struct {
	Value   string // get
	Unknown bool
}

// KVOp is one client operation: called at logical time Call, answered at Return (logical
// times order every recorded event; CallNs/ReturnNs are the virtual times).
type KVOp struct {
	Client   int
	Input    KVInput
	Output   KVOutput
	Call     int64
	Return   int64
	CallNs   int64
	ReturnNs int64
}

func (op KVOp) String() string { return describeKV(op.Input, op.Output) }

func describeKV(in KVInput, out KVOutput) string {
	res := ""
	switch {
	case out.Unknown:
		res = " -> ?"
	case in.Op == KVGet:
		res = fmt.Sprintf(" -> %q", out.Value)
	}
	if in.Op == KVGet {
		return fmt.Sprintf("get(%q)%s", in.Key, res)
	}
	return fmt.Sprintf("%v(%q, %q)%s", in.Op, in.Key, in.Value, res)
}

// KVHistory records client operations as a simulation runs.
type KVHistory struct {
	ops   []KVOp
	done  []bool
	clock int64
}

// Invoke records that client called in at virtual time atNs; the result identifies the
// operation for Return.
func (h *KVHistory) Invoke(client int, in KVInput, atNs int64) int {
	h.clock++
	h.ops = append(h.ops, KVOp{Client: client, Input: in, Call: h.clock, CallNs: atNs})
	h.done = append(h.done, false)
	return len(h.ops) - 1
}

// Return records the answer to operation op (a get's value) at virtual time atNs. Only the
// first answer counts.
func (h *KVHistory) Return(op int, value string, atNs int64) {
	if op < 0 || op >= len(h.ops) || h.done[op] {
		return
	}
	h.clock++
	h.done[op] = true
	o := &h.ops[op]
	o.Return, o.ReturnNs = h.clock, atNs
	if o.Input.Op == KVGet {
		o.Output.Value = value
	}
}

// Pending reports whether operation op has not been answered.
func (h *KVHistory) Pending(op int) bool { return op >= 0 && op < len(h.ops) && !h.done[op] }

// Ops returns the history; operations never answered have an Unknown output and return
// after everything else.
func (h *KVHistory) Ops() []KVOp {
	out := append([]KVOp(nil), h.ops...)
	for i := range out {
		if !h.done[i] {
			out[i].Output = KVOutput{Unknown: true}
			out[i].Return = h.clock + 1
			out[i].ReturnNs = -1
		}
	}
	return out
}

// Len is the number of operations recorded.
func (h *KVHistory) Len() int { return len(h.ops) }

// kvStep is a register per key: get returns it, put sets it, append extends it.
func kvStep(state, input, output any) (bool, any) {
	v := state.(string)
	in, out := input.(KVInput), output.(KVOutput)
	switch in.Op {
	case KVGet:
		return out.Unknown || out.Value == v, v
	case KVPut:
		return true, in.Value
	case KVAppend:
		return true, v + in.Value
	}
	return false, v
}

// KVModel is the porcupine model of the cluster's key-value service, partitioned by key.
func KVModel() porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			return partitionBy(history, func(op porcupine.Operation) string { return op.Input.(KVInput).Key })
		},
		Init: func() any { return "" },
		Step: kvStep,
		Hash: func(state any) uint64 {
			h := fnv.New64a()
			h.Write([]byte(state.(string)))
			return h.Sum64()
		},
		DescribeOperation: func(input, output any) string {
			return describeKV(input.(KVInput), output.(KVOutput))
		},
		DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
		DescribeOperationMetadata: func(info any) string {
			if m, ok := info.([2]int64); ok {
				if m[1] < 0 {
					return fmt.Sprintf("called at %dns, never answered", m[0])
				}
				return fmt.Sprintf("virtual %dns .. %dns", m[0], m[1])
			}
			return ""
		},
	}
}

// CheckKV checks a key-value history, key by key.
func CheckKV(ops []KVOp, opts CheckOptions) Report {
	all := make([]porcupine.Operation, len(ops))
	for i, op := range ops {
		all[i] = porcupine.Operation{ClientId: op.Client, Input: op.Input, Call: op.Call, Output: op.Output,
			Return: op.Return, Metadata: [2]int64{op.CallNs, op.ReturnNs}}
	}
	return check("kv", KVModel(), partitions(all, func(op porcupine.Operation) string {
		return op.Input.(KVInput).Key
	}), opts)
}
