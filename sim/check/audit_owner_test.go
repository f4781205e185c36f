package check

import (
	"testing"

	"github.com/msgrsim/msgrsim/msgr/event"
)

// The auditor finds a center's messenger by a scan in a small world and through its index in
// a large one, the same owners either way, also after centers were added.
func TestAuditorOwnerScanAndIndex(t *testing.T) {
	for _, n := range []int{3, maxScanned, maxScanned + 9} {
		a := &Auditor{}
		for i := range n {
			a.centers = append(a.centers, new(event.Center))
			a.owners = append(a.owners, &auditee{name: string(rune('a' + i%26))})
			a.stale = true
		}
		check := func() {
			for i := len(a.centers) - 1; i >= 0; i-- {
				if got := a.owner(a.centers[i]); got != a.owners[i] {
					t.Fatalf("%d centers: center %d found owner %p, want %p", len(a.centers), i, got, a.owners[i])
				}
			}
			if a.owner(new(event.Center)) != nil {
				t.Fatalf("%d centers: an unknown center has an owner", len(a.centers))
			}
		}
		check()
		a.centers = append(a.centers, new(event.Center))
		a.owners = append(a.owners, &auditee{name: "late"})
		a.stale = true
		check()
	}
}
