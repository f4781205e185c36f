package main

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/msgrsim/msgrsim/msgr"
)

// published are the messengers whose metrics the expvar variable "msgr" shows. expvar is
// process-wide, so the variable is published once and lists whoever serves now.
var published struct {
	once sync.Once
	mu   sync.Mutex
	ms   []*msgr.Messenger
}

func publish(m *msgr.Messenger) {
	published.once.Do(func() {
		expvar.Publish("msgr", expvar.Func(func() any {
			published.mu.Lock()
			defer published.mu.Unlock()
			snaps := make([]msgr.Metrics, len(published.ms))
			for i, m := range published.ms {
				snaps[i] = m.Metrics()
			}
			return snaps
		}))
	})
	published.mu.Lock()
	published.ms = append(published.ms, m)
	published.mu.Unlock()
}

func unpublish(m *msgr.Messenger) {
	published.mu.Lock()
	published.ms = slices.DeleteFunc(published.ms, func(x *msgr.Messenger) bool { return x == m })
	published.mu.Unlock()
}

// metricsServer serves a messenger's metrics over HTTP.
type metricsServer struct {
	m   *msgr.Messenger
	l   net.Listener
	srv *http.Server
}

// startMetrics listens on addr and serves /metrics (Prometheus text: the messenger's counters
// and the process's peak RSS, goroutines and heap) and /debug/vars (expvar JSON).
func startMetrics(addr string, m *msgr.Messenger) (*metricsServer, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &metricsServer{m: m, l: l}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", s.prometheus)
	mux.Handle("/debug/vars", expvar.Handler())
	mux.HandleFunc("/metrics.json", s.json)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	publish(m)
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *metricsServer) addr() string { return s.l.Addr().String() }

// stop closes the endpoint (nil: nothing to stop).
func (s *metricsServer) stop() {
	if s == nil {
		return
	}
	unpublish(s.m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = s.srv.Close()
	}
}

func (s *metricsServer) prometheus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := msgr.WritePrometheus(w, s.m.Metrics()); err != nil {
		return
	}
	writeProcessMetrics(w)
}

func (s *metricsServer) json(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.m.Metrics())
}

// writeProcessMetrics adds the process's peak RSS (getrusage ru_maxrss), goroutines and heap.
func writeProcessMetrics(w http.ResponseWriter) {
	if rss, ok := peakRSS(); ok {
		fmt.Fprintf(w, "# HELP process_resident_memory_max_bytes Peak resident set size.\n# TYPE process_resident_memory_max_bytes gauge\nprocess_resident_memory_max_bytes %d\n", rss)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "# HELP go_goroutines Goroutines that exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	fmt.Fprintf(w, "# HELP go_memstats_heap_inuse_bytes Heap bytes in use.\n# TYPE go_memstats_heap_inuse_bytes gauge\ngo_memstats_heap_inuse_bytes %d\n", ms.HeapInuse)
}
