package explore

import "slices"

// Enumerate runs the scenario of pol without faults and returns it with the fault points it
// offers: for every element a side began writing, up to rounds of each kind, the writer's
// points (reset, stall, block) and the reader's (reset). Points are in a stable order.
func Enumerate(pol Policy, rounds int, seed uint64) ([]Point, Result) {
	base := Run(Config{Policy: pol, Seed: seed})
	return pointsOf(base.Written, nil, rounds), base
}

// pointsOf are the points of the elements written (counted by side and name) beyond those
// counted in before (nil: none), up to rounds of each.
func pointsOf(written [2]map[string]int, before *[2]map[string]int, rounds int) []Point {
	var out []Point
	for side := Connector; side <= Acceptor; side++ {
		for _, name := range elemNames {
			first := 1
			if before != nil {
				first = before[side][name] + 1
			}
			for r := first; r <= min(written[side][name], rounds); r++ {
				for _, a := range []Action{Reset, Stall, Block} {
					out = append(out, Point{Side: side, Op: Write, Elem: name, Round: r, Action: a})
				}
				out = append(out, Point{Side: side.other(), Op: Read, Elem: name, Round: r, Action: Reset})
			}
		}
	}
	slices.SortStableFunc(out, func(p, q Point) int {
		switch {
		case p.less(q):
			return -1
		case q.less(p):
			return 1
		}
		return 0
	})
	return out
}
