package synthetic

import (
	"testing"
	"time"
)

// Every preset is Ceph's test configuration and is valid.
func TestPresets(t *testing.T) {
	want := map[string][3]int{"stress": {8, 32, 5000}, "stress1": {16, 32, 10000}, "inject": {8, 32, 1000},
		"inject2": {8, 16, 1000}, "inject3": {8, 16, 1000}, "inject4": {16, 32, 1000}}
	for _, name := range PresetNames() {
		c, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if w := want[name]; c.Servers != w[0] || c.Clients != w[1] || c.Ops != w[2] {
			t.Errorf("%s: %d servers %d clients %d ops, want %v", name, c.Servers, c.Clients, c.Ops, w)
		}
		if c.MaxInFlight != 64 || c.MaxConns != 128 || c.MaxPayload != 4<<20 || c.Payloads != 100 {
			t.Errorf("%s: Ceph's limits not filled in: %+v", name, c)
		}
	}
	if _, err := Preset("nope"); err == nil {
		t.Fatal("unknown preset accepted")
	}
	c, _ := Preset("inject3")
	if c.SocketFailures != 600 || !c.ClientPolicy.Lossy || c.String() == "" {
		t.Fatalf("inject3: %v", c)
	}
	s := c.Scaled(2, 3, 50, 1024)
	if s.Servers != 2 || s.Clients != 3 || s.Ops != 50 || s.InitialConns != 6 || s.MaxPayload != 1024 {
		t.Fatalf("scaled: %+v", s)
	}
}

func TestConfigValidate(t *testing.T) {
	good, _ := Preset("stress")
	for _, bad := range []func(c *Config){
		func(c *Config) { c.Servers = 0 },
		func(c *Config) { c.Clients = 300 },
		func(c *Config) { c.MaxPayload = 1 << 30 },
		func(c *Config) { c.MinPayload, c.MaxPayload = 10, 5 },
		func(c *Config) { c.CommandChance = 101 },
		func(c *Config) { c.SleepMin, c.SleepMax = time.Second, time.Millisecond },
	} {
		c := good
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}
