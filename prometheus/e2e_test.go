package prometheus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/metrics"
	fprom "github.com/elixirscope-go/foundation/prometheus"
)

// prometheusBinary returns the Prometheus server to run: $PROMETHEUS_BIN,
// else prometheus on $PATH, else Debian's /usr/bin/prometheus.
func prometheusBinary() string {
	if p := os.Getenv("PROMETHEUS_BIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus"
	}
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects the server's output for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPrometheusServerEndToEnd starts a real Prometheus server (Debian
// package prometheus) that scrapes a local /metrics endpoint every second,
// and reads a counter back through Prometheus' HTTP query API, before and
// after it grows, and a labelled histogram of durations in seconds.
func TestPrometheusServerEndToEnd(t *testing.T) {
	bin := prometheusBinary()
	if bin == "" {
		t.Skip("no Prometheus server: install Debian's prometheus package (apt-get install -y prometheus, /usr/bin/prometheus) or set PROMETHEUS_BIN")
	}
	if testing.Short() {
		t.Skip("starts a Prometheus server; skipped with -short")
	}

	r := metrics.NewRegistry()
	stored := r.Counter("foundation.events_stored")
	stored.Add(42)
	r.Histogram("op.duration").Record(1500)
	// A labelled histogram of durations in ns, exported in seconds.
	lat, err := r.HistogramVec("http.request.stop.duration", metrics.Desc{Tags: []string{"route"}, Unit: metrics.Nanoseconds})
	require.NoError(t, err)
	lat.With("/users").Record(2_500_000) // 2.5 ms
	lat.With("/users").Record(40_000_000)
	lat.With("/login").Record(700_000)
	target := serve(t, mustNew(t, r, fprom.WithNamespace("e2e")))

	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: foundation
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(target.URL, "http://"))), 0o600))
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel() // kills the server, if still running
		<-exited
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	query := func(q string) (string, error) {
		resp, err := client.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var body struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return "", err
		}
		if body.Status != "success" || len(body.Data.Result) == 0 {
			return "", fmt.Errorf("status %q, %d results", body.Status, len(body.Data.Result))
		}
		v, _ := body.Data.Result[0].Value[1].(string)
		return v, nil
	}
	// waitFor polls q until it returns want; 45 s is a generous guard for
	// a loaded machine (a scrape happens every second).
	waitFor := func(q, want string) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		var got string
		var err error
		for time.Now().Before(deadline) {
			if got, err = query(q); err == nil && got == want {
				return
			}
			select {
			case <-time.After(200 * time.Millisecond):
			case err := <-exited:
				exited <- err // for the deferred cleanup
				t.Fatalf("prometheus exited early: %v", err)
			}
		}
		t.Fatalf("query %s: got %q (err %v), want %q", q, got, err, want)
	}

	waitFor(`e2e_foundation_events_stored_total{job="foundation"}`, "42")
	waitFor(`e2e_op_duration_count`, "1")
	waitFor(`e2e_http_request_stop_duration_seconds_count{route="/users"}`, "2")
	waitFor(`e2e_http_request_stop_duration_seconds_bucket{route="/users",le="0.005"}`, "1")
	waitFor(`e2e_http_request_stop_duration_seconds_bucket{route="/login",le="0.001"}`, "1")
	waitFor(`count(e2e_http_request_stop_duration_seconds_count)`, "3") // /users, /login, the overflow series
	stored.Add(8)
	waitFor(`e2e_foundation_events_stored_total`, "50")
}
