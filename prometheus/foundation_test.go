package prometheus_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	fprom "github.com/elixirscope-go/foundation/prometheus"
)

// TestFoundation exports a real Foundation's telemetry: built-in counters,
// an Execute'd event's counter and histogram, and a Span's duration.
func TestFoundation(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	defer f.Close()
	tel := f.Telemetry()
	tel.Execute("http.request", foundation.Measurements{"counter": 2, "bytes": 1500}, nil)
	require.NoError(t, tel.Span("db.query", nil, func() error { return nil }))

	for name, src := range map[string]fprom.Source{
		"registry": tel.Registry(),
		"metrics":  fprom.SourceFunc(tel.Metrics),
	} {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(mustNew(t, src))
			require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP http_request_total foundation counter http.request
# TYPE http_request_total counter
http_request_total 2
# HELP foundation_config_updates_total foundation counter foundation.config_updates
# TYPE foundation_config_updates_total counter
foundation_config_updates_total 0
`), "http_request_total", "foundation_config_updates_total"))
			assert.Equal(t, uint64(1), histCount(t, reg, "http_request_bytes"))
			assert.Equal(t, uint64(1), histCount(t, reg, "db_query_stop_duration"))
		})
	}
}
