package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// startCephxMon starts a real msgr1-only ceph-mon with cephx required everywhere
// (scripts/ceph/cephx-mon-up.sh) and returns its address, its fsid and the admin keyring.
func startCephxMon(t *testing.T) (addr, fsid, keyring string) {
	t.Helper()
	requireTools(t, "ceph-mon", "ceph", "monmaptool", "ceph-authtool")
	port := freePort(t)
	dir := filepath.Join("/tmp", fmt.Sprintf("msgrsim-cephx-ping-%d", port))
	out, err := exec.Command("../../scripts/ceph/cephx-mon-up.sh", dir, fmt.Sprint(port)).CombinedOutput()
	if err != nil {
		t.Fatalf("cephx-mon-up.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("../../scripts/ceph/mon-down.sh", dir, "a").Run()
		_ = os.RemoveAll(dir)
	})
	conf, err := os.ReadFile(filepath.Join(dir, "ceph.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^fsid = (\S+)$`).FindSubmatch(conf)
	if m == nil {
		t.Fatalf("no fsid in ceph.conf:\n%s", conf)
	}
	return fmt.Sprintf("v1:127.0.0.1:%d", port), string(m[1]), filepath.Join(dir, "client.admin.keyring")
}

// 4. msgr-node ping -auth cephx against a real monitor with cephx required: the handshake,
// the cephx exchange (protocol 2, result 0, a global id), the service tickets, and the fsid of
// the monmap the monitor sends next; a wrong key is refused with EACCES and exit 1.
func TestInteropPingCephxRealMon(t *testing.T) {
	addr, fsid, keyring := startCephxMon(t)
	var out, errb bytes.Buffer
	code := pingCmd([]string{"-auth", "cephx", "-keyring", keyring, "-name", "client.admin", "-json", "-timeout", "20s", addr}, &out, &errb)
	if code != 0 {
		t.Fatalf("ping exited %d: %s%s", code, out.String(), errb.String())
	}
	var res pingResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res.Handshake != "ok" || res.AuthReply == nil || res.AuthReply.Protocol != 2 || res.AuthReply.Result != 0 || res.AuthReply.GlobalID == 0 {
		t.Fatalf("ping: %s", out.String())
	}
	var services []string
	for _, tk := range res.Tickets {
		services = append(services, tk.Service)
	}
	if got := strings.Join(services, ","); got != "mon,osd,mgr,auth" {
		t.Errorf("tickets for %s, want mon,osd,mgr,auth", got)
	}
	if res.FSID != fsid {
		t.Errorf("fsid %q, the cluster's is %q", res.FSID, fsid)
	}
	t.Logf("%s", out.String())

	wrong := filepath.Join(t.TempDir(), "wrong.keyring")
	if b, err := exec.Command("ceph-authtool", "--create-keyring", wrong, "-n", "client.admin", "--gen-key").CombinedOutput(); err != nil {
		t.Fatalf("ceph-authtool: %v\n%s", err, b)
	}
	out.Reset()
	errb.Reset()
	code = pingCmd([]string{"-auth", "cephx", "-keyring", wrong, "-name", "client.admin", "-json", "-timeout", "20s", addr}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "authentication denied") || !strings.Contains(errb.String(), "EACCES") {
		t.Fatalf("wrong key: exit %d, stderr %q, want exit 1 and EACCES", code, errb.String())
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.AuthReply == nil || res.AuthReply.Result != -13 {
		t.Errorf("wrong key: JSON %s (%v), want auth_reply result -13", out.String(), err)
	}
}
