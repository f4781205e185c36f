// Package bad breaks every determinism rule, to prove the lint test catches each one.
package bad

import (
	"math/rand"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/msgrsim/msgrsim/models"
)

// Model checks run porcupine's concurrent checker: not inside the simulation.
func Model() (bool, models.Report) {
	return porcupine.CheckOperations(models.KVModel(), nil), models.CheckKV(nil, models.CheckOptions{})
}

// Bad breaks the rules.
func Bad(m map[string]int, a, b chan int) int {
	go func() {}()
	_ = time.Now()
	time.Sleep(time.Millisecond)
	select {
	case <-a:
	case <-b:
	}
	select { // a non-blocking poll: allowed
	case <-a:
	default:
	}
	n := rand.Int()
	for k := range m {
		n += len(k)
	}
	keys := make([]string, 0, len(m))
	//lint:ordered keys are sorted below
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return n
}
