package explore

import "slices"

// Enumerate runs the scenario of pol without faults and returns it with the fault points it
// offers: for every element a side began writing, up to rounds of each kind, the writer's
// points (reset, stall, block) and the reader's (reset). Points are in a stable order.
func Enumerate(pol Policy, rounds int, seed uint64) ([]Point, Result) {
	return EnumerateVariant(pol, rounds, seed, Variant{})
}

// EnumerateVariant is Enumerate for the scenario changed by v.
func EnumerateVariant(pol Policy, rounds int, seed uint64, v Variant) ([]Point, Result) {
	base := Run(Config{Policy: pol, Seed: seed, Variant: v})
	return pointsOf(base.Written, nil, rounds), base
}

// Seconds are the second points of the pairs that begin with the single point of r: every
// point whose element was written after r's point fired, up to rounds more of each kind.
func Seconds(r Result, rounds int) []Point {
	if len(r.Points) != 1 || !r.Fired[0] {
		return nil
	}
	var out []Point
	for _, p := range pointsOf(r.Written, &r.Before[0], rounds) {
		if p != r.Points[0] {
			out = append(out, p)
		}
	}
	return out
}

// pointsOf are the points of the elements written (counted by side and name) beyond those
// counted in before (nil: none), up to rounds of each.
func pointsOf(written [2]map[string]int, before *[2]map[string]int, rounds int) []Point {
	var out []Point
	for side := Connector; side <= Acceptor; side++ {
		for _, name := range elemNames {
			first, last := 1, rounds
			if before != nil {
				first = before[side][name] + 1
				last = before[side][name] + rounds
			}
			for r := first; r <= min(written[side][name], last); r++ {
				for _, a := range []Action{Reset, Stall, Block} {
					out = append(out, Point{Side: side, Op: Write, Elem: name, Round: r, Action: a})
				}
				out = append(out, Point{Side: side.other(), Op: Read, Elem: name, Round: r, Action: Reset})
			}
		}
	}
	slices.SortStableFunc(out, Compare)
	return out
}
