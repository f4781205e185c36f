package models

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// op is a hand-written operation: client, what, logical call and return times.
func op(client int, in KVInput, out KVOutput, call, ret int64) KVOp {
	return KVOp{Client: client, Input: in, Output: out, Call: call, Return: ret, CallNs: call * 1000, ReturnNs: ret * 1000}
}

func get(k string) KVInput         { return KVInput{Op: KVGet, Key: k} }
func put(k, v string) KVInput      { return KVInput{Op: KVPut, Key: k, Value: v} }
func appendOp(k, v string) KVInput { return KVInput{Op: KVAppend, Key: k, Value: v} }
func got(v string) KVOutput        { return KVOutput{Value: v} }
func none() KVOutput               { return KVOutput{} }
func unknown() KVOutput            { return KVOutput{Unknown: true} }
func check1(ops ...KVOp) Report    { return CheckKV(ops, CheckOptions{NoVisualize: true}) }

func TestKVLinearizable(t *testing.T) {
	cases := map[string][]KVOp{
		"sequential": {
			op(0, put("x", "a"), none(), 1, 2), op(0, get("x"), got("a"), 3, 4),
			op(0, appendOp("x", "b"), none(), 5, 6), op(1, get("x"), got("ab"), 7, 8),
		},
		"absent key reads empty": {op(0, get("y"), got(""), 1, 2)},
		"concurrent read sees the old value": {
			op(0, put("x", "a"), none(), 1, 4), op(1, get("x"), got(""), 2, 3),
		},
		"concurrent read sees the new value": {
			op(0, put("x", "a"), none(), 1, 4), op(1, get("x"), got("a"), 2, 3),
		},
		"concurrent appends in either order": {
			op(0, appendOp("x", "a"), none(), 1, 4), op(1, appendOp("x", "b"), none(), 2, 5),
			op(2, get("x"), got("ba"), 6, 7),
		},
		"unanswered append took effect": {
			op(0, appendOp("x", "a"), unknown(), 1, 100), op(1, get("x"), got("a"), 2, 3),
			op(1, get("x"), got("a"), 4, 5),
		},
		"unanswered append never took effect": {
			op(0, appendOp("x", "a"), unknown(), 1, 100), op(1, get("x"), got(""), 2, 3),
		},
		"retried append applied once": {
			// A client's append was retried through a reset; the service answered once.
			op(0, appendOp("x", "a"), none(), 1, 10), op(1, get("x"), got("a"), 11, 12),
		},
		"keys are independent": {
			op(0, put("x", "1"), none(), 1, 2), op(1, put("y", "2"), none(), 1, 2),
			op(0, get("y"), got("2"), 3, 4), op(1, get("x"), got("1"), 3, 4),
		},
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			if rep := check1(ops...); !rep.OK() {
				t.Fatalf("%v\n%v", rep, ops)
			}
		})
	}
}

func TestKVNotLinearizable(t *testing.T) {
	cases := map[string][]KVOp{
		"stale read after the put returned": {
			op(0, put("x", "a"), none(), 1, 2), op(1, get("x"), got(""), 3, 4),
		},
		"retried append applied twice": {
			op(0, appendOp("x", "a"), none(), 1, 10), op(1, get("x"), got("aa"), 11, 12),
		},
		"value nobody wrote": {
			op(0, put("x", "a"), none(), 1, 2), op(1, get("x"), got("b"), 3, 4),
		},
		"appends in an impossible order": {
			op(0, appendOp("x", "a"), none(), 1, 2), op(1, appendOp("x", "b"), none(), 3, 4),
			op(2, get("x"), got("ba"), 5, 6),
		},
		"unanswered write seen, then unseen": {
			op(0, put("x", "a"), unknown(), 1, 100), op(1, get("x"), got("a"), 2, 3),
			op(1, get("x"), got(""), 4, 5),
		},
		"read of a write that had not started": {
			op(1, get("x"), got("a"), 1, 2), op(0, put("x", "a"), none(), 3, 4),
		},
	}
	for name, ops := range cases {
		t.Run(name, func(t *testing.T) {
			rep := check1(append(ops, op(3, put("other", "z"), none(), 1, 2))...)
			if rep.OK() {
				t.Fatalf("accepted: %v\n%v", rep, ops)
			}
			if len(rep.Failed) != 1 || rep.Failed[0] != "x" {
				t.Fatalf("failed partitions %v, want [x]", rep.Failed)
			}
		})
	}
}

func TestKVHistoryRecorder(t *testing.T) {
	var h KVHistory
	a := h.Invoke(0, put("x", "1"), 10)
	b := h.Invoke(1, get("x"), 11)
	h.Return(a, "", 20)
	h.Return(b, "1", 21)
	h.Return(b, "ignored", 22) // only the first answer counts
	c := h.Invoke(0, appendOp("x", "2"), 30)
	if !h.Pending(c) || h.Pending(a) {
		t.Fatal("pending state wrong")
	}
	ops := h.Ops()
	if len(ops) != 3 || h.Len() != 3 {
		t.Fatalf("%d ops", len(ops))
	}
	if ops[1].Output.Value != "1" || ops[1].ReturnNs != 21 || ops[1].Call != 2 || ops[1].Return != 4 {
		t.Fatalf("get recorded as %+v", ops[1])
	}
	if !ops[2].Output.Unknown || ops[2].Return <= ops[1].Return {
		t.Fatalf("unanswered op recorded as %+v", ops[2])
	}
	if rep := CheckKV(ops, CheckOptions{NoVisualize: true}); !rep.OK() || rep.Operations != 3 || rep.Partitions != 1 {
		t.Fatalf("%v", rep)
	}
}

func TestKVVisualizationWritten(t *testing.T) {
	dir := t.TempDir()
	ops := []KVOp{op(0, put("x", "a"), none(), 1, 2), op(1, get("x"), got(""), 3, 4)}
	rep := CheckKV(ops, CheckOptions{VisualizeDir: dir, Name: "kv-seed-1"})
	if rep.OK() || rep.Visualization != dir+"/kv-seed-1.html" {
		t.Fatalf("%v", rep)
	}
	b, err := os.ReadFile(rep.Visualization)
	if err != nil || !strings.Contains(string(b), `put(\"x\", \"a\")`) {
		t.Fatalf("visualization: %v (%d bytes)", err, len(b))
	}
}

// realisticKV simulates a linearizable store under concurrent clients: each client runs a
// closed loop of operations over a few keys, each taking effect at a random instant of its
// interval; some (a crashed client's last) never return.
func realisticKV(seed uint64, clients, opsPerClient, keys int) []KVOp {
	r := rand.New(rand.NewPCG(seed, 1))
	type pending struct {
		op       KVOp
		effectAt int64
	}
	store := map[string]string{}
	var events []pending
	for c := 0; c < clients; c++ {
		at := int64(r.IntN(10))
		for i := 0; i < opsPerClient; i++ {
			k := fmt.Sprintf("k%d", r.IntN(keys))
			var in KVInput
			switch r.IntN(3) {
			case 0:
				in = get(k)
			case 1:
				in = put(k, fmt.Sprintf("%d.%d", c, i))
			default:
				in = appendOp(k, fmt.Sprintf("[%d.%d]", c, i))
			}
			dur := int64(1 + r.IntN(40))
			events = append(events, pending{op: KVOp{Client: c, Input: in, Call: at, Return: at + dur}, effectAt: at + r.Int64N(dur+1)})
			at += dur + int64(r.IntN(5))
		}
	}
	// Apply effects in effect order to compute outputs.
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	sortBy(order, func(i int) int64 { return events[i].effectAt*1000 + int64(i%1000) })
	for _, i := range order {
		e := &events[i]
		switch e.op.Input.Op {
		case KVGet:
			e.op.Output.Value = store[e.op.Input.Key]
		case KVPut:
			store[e.op.Input.Key] = e.op.Input.Value
		case KVAppend:
			store[e.op.Input.Key] += e.op.Input.Value
		}
	}
	ops := make([]KVOp, len(events))
	for i, e := range events {
		ops[i] = e.op
		ops[i].CallNs, ops[i].ReturnNs = e.op.Call, e.op.Return
	}
	return ops
}

func sortBy(idx []int, key func(int) int64) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && key(idx[j-1]) > key(idx[j]); j-- {
			idx[j-1], idx[j] = idx[j], idx[j-1]
		}
	}
}

// The check is fast on histories of realistic size (8 clients × 250 operations on 8 keys,
// heavily concurrent): it must finish well within a generous bound on a loaded machine; the
// benchmark measures it.
func TestKVRealisticHistory(t *testing.T) {
	ops := realisticKV(1, 8, 250, 8)
	rep := CheckKV(ops, CheckOptions{Timeout: 2 * time.Minute, NoVisualize: true})
	if !rep.OK() {
		t.Fatalf("a linearizable history was rejected: %v", rep)
	}
	t.Logf("%v", rep)
	// The same history with one get's answer changed to a value nobody wrote is caught.
	for i := range ops {
		if ops[i].Input.Op == KVGet {
			ops[i].Output.Value = "never-written"
			break
		}
	}
	if rep := CheckKV(ops, CheckOptions{Timeout: 2 * time.Minute, NoVisualize: true}); rep.Verdict != NotLinearizable {
		t.Fatalf("a corrupted history was accepted: %v", rep)
	}
}

func BenchmarkCheckKV(b *testing.B) {
	for _, size := range []struct{ clients, ops, keys int }{{4, 100, 4}, {8, 250, 8}, {16, 500, 8}} {
		ops := realisticKV(1, size.clients, size.ops, size.keys)
		b.Run(fmt.Sprintf("ops=%d/keys=%d", len(ops), size.keys), func(b *testing.B) {
			for b.Loop() {
				if rep := CheckKV(ops, CheckOptions{NoVisualize: true}); !rep.OK() {
					b.Fatal(rep)
				}
			}
		})
	}
}
