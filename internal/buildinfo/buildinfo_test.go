package buildinfo

import (
	"regexp"
	"strings"
	"testing"

	"github.com/msgrsim/msgrsim/internal/canary"
)

func TestRead(t *testing.T) {
	i := Read()
	if i.Go == "" || i.Version == "" || i.Module != "github.com/msgrsim/msgrsim" {
		t.Fatalf("incomplete build info %+v", i)
	}
	if i.Canary() != canary.Enabled {
		t.Fatalf("canary tag %v on a build with canary.Enabled %v", i.Canary(), canary.Enabled)
	}
	if !strings.Contains(i.String(), "go="+i.Go) {
		t.Fatalf("String() = %q", i.String())
	}
}

func TestID(t *testing.T) {
	for _, c := range []struct {
		i    Info
		want string
	}{
		{Info{}, "devel"},
		{Info{Commit: "0123456789abcdef0123", Modified: true, Tags: []string{"canary"}}, "0123456789ab-dirty-canary"},
		{Info{Commit: "0123456789abcdef0123"}, "0123456789ab"},
	} {
		if got := c.i.ID(); got != c.want || !regexp.MustCompile(`^[A-Za-z0-9.-]+$`).MatchString(got) {
			t.Errorf("ID(%+v) = %q, want %q", c.i, got, c.want)
		}
	}
	i := Info{Version: "v1.2.3", Commit: "0123456789abcdef", Modified: true, Tags: []string{"canary"}, Go: "go1.26.0"}
	if s := i.String(); s != "version=v1.2.3 commit=0123456789ab+dirty tags=canary go=go1.26.0" {
		t.Errorf("String() = %q", s)
	}
}
