package models_test

import (
	"fmt"

	"github.com/msgrsim/msgrsim/models"
)

// Record a key-value history as operations are called and answered, then check it.
func ExampleCheckKV() {
	var h models.KVHistory
	put := h.Invoke(0, models.KVInput{Op: models.KVPut, Key: "x", Value: "a"}, 1000)
	h.Return(put, "", 2000)
	get := h.Invoke(1, models.KVInput{Op: models.KVGet, Key: "x"}, 3000)
	h.Return(get, "", 4000) // a stale read: the put had already returned
	rep := models.CheckKV(h.Ops(), models.CheckOptions{NoVisualize: true})
	fmt.Println(rep.Verdict, rep.Failed)
	// Output: not linearizable [x]
}

// Record a lossless stream's sends, dispatches and resets, then check it as a FIFO queue.
func ExampleCheckFIFO() {
	h := models.NewFIFOHistory()
	h.Send("osd.0->osd.1", 1, 100)
	h.Send("osd.0->osd.1", 2, 200)
	h.Forgive("osd.0->osd.1", 300) // a reset was reported: 1 and 2 may be lost
	h.Send("osd.0->osd.1", 3, 400)
	h.Deliver("osd.0->osd.1", 3, "osd.1#1", 500)
	h.Drain(600)
	fmt.Println(models.CheckFIFO(h.Ops(), models.CheckOptions{NoVisualize: true}).Verdict)
	// Output: linearizable
}
