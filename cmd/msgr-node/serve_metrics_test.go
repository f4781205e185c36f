package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startServeArgs runs `msgr-node serve` in-process with extra flags and returns the metrics
// address it announced (if any), its log path and a stop func.
func startServeArgs(t *testing.T, port int, extra ...string) (metricsAddr, logPath string, stop func()) {
	t.Helper()
	logPath = filepath.Join(t.TempDir(), "serve.log")
	ch := make(chan struct{})
	done := make(chan int)
	var errb bytes.Buffer
	go func() {
		var out bytes.Buffer
		args := append([]string{"-addr", fmt.Sprintf("127.0.0.1:%d", port), "-log", logPath}, extra...)
		done <- serveCmd(args, &out, &errb, ch)
	}()
	waitListening(t, port)
	for _, ev := range readEvents(t, logPath) {
		if ev["event"] == "metrics" {
			metricsAddr, _ = ev["addr"].(string)
		}
	}
	return metricsAddr, logPath, func() {
		close(ch)
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// sample returns the value of one Prometheus sample line, or -1 when absent.
func sample(text, series string) int64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9]+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}

// serve -metrics ADDR exposes the messenger's counters: a ping's session and messages, a
// garbage banner's fault by reason, the process's peak RSS; /debug/vars has them as expvar
// JSON. The injection flags are live: every client message is held back (dispatch delay) and
// accepts are delayed (internal delays), and the ping still succeeds.
func TestServeMetricsAndInjection(t *testing.T) {
	port := freePort(t)
	maddr, logPath, stop := startServeArgs(t, port, "-metrics", "127.0.0.1:0", "-handshake-timeout", "3s",
		"-inject-delay-type", "client", "-inject-delay-probability", "1", "-inject-delay-max", "20ms",
		"-inject-internal-delays", "5ms")
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	if maddr == "" {
		t.Fatalf("serve did not announce its metrics address: %v", readEvents(t, logPath))
	}
	if code, out, errOut := run("ping", "-json", "-timeout", "10s", fmt.Sprintf("v1:127.0.0.1:%d", port)); code != 0 {
		t.Fatalf("ping exit %d: %s %s", code, out, errOut)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.Copy(io.Discard, c) // until the server closes it
	c.Close()

	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		text = httpGet(t, "http://"+maddr+"/metrics")
		if sample(text, `msgr_faults_total{msgr="mon.0",reason="bad_banner"}`) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for series, least := range map[string]int64{
		`msgr_faults_total{msgr="mon.0",reason="bad_banner"}`: 1,
		`msgr_sessions_accepted_total{msgr="mon.0"}`:          1,
		`msgr_messages_in_total{msgr="mon.0"}`:                1,
		`msgr_messages_out_total{msgr="mon.0"}`:               1,
		`msgr_delayed_messages_total{msgr="mon.0"}`:           1,
		`msgr_bytes_in_total{msgr="mon.0"}`:                   100,
		`process_resident_memory_max_bytes`:                   1 << 20,
	} {
		if v := sample(text, series); v < least {
			t.Errorf("%s = %d, want at least %d", series, v, least)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
	var vars struct {
		Msgr []struct {
			Name   string            `json:"name"`
			Faults map[string]uint64 `json:"faults"`
		} `json:"msgr"`
	}
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+maddr+"/debug/vars")), &vars); err != nil {
		t.Fatal(err)
	}
	if len(vars.Msgr) != 1 || vars.Msgr[0].Name != "mon.0" || vars.Msgr[0].Faults["bad_banner"] != 1 {
		t.Fatalf("expvar msgr = %+v", vars.Msgr)
	}
	stop()
	stop = nil
	var sawClass bool
	for _, ev := range readEvents(t, logPath) {
		sawClass = sawClass || (ev["event"] == "fault" && ev["class"] == "bad_banner")
	}
	if !sawClass {
		t.Fatal("the event log has no fault classified bad_banner")
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "-addr", "127.0.0.1:1", "-inject-delay-probability", "2"},
		{"serve", "-addr", "127.0.0.1:1", "-inject-delay-type", "dragon"},
		{"serve", "-addr", "127.0.0.1:1", "-log-level", "loud"},
	} {
		if code, _, errOut := run(args...); code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q: want 2 and one line", args, code, errOut)
		}
	}
	port := freePort(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, _, errOut := run("serve", "-addr", fmt.Sprintf("127.0.0.1:%d", port), "-metrics", l.Addr().String())
	if code != 1 || !strings.Contains(errOut, "-metrics") {
		t.Errorf("metrics address in use: exit %d, stderr %q", code, errOut)
	}
}
