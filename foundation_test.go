package foundation_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elixirscope-go/foundation"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(warmChildEnv); dir != "" {
		warmChild(dir) // never returns
	}
	goleak.VerifyTestMain(m)
}

func newF(t testing.TB, opts ...foundation.Option) *foundation.Foundation {
	t.Helper()
	f, err := foundation.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestNewDefaults(t *testing.T) {
	f := newF(t)
	snap := f.Config().Get()
	assert.Equal(t, uint64(0), snap.Version())
	assert.Equal(t, foundation.DefaultConfig(), snap.Config())
	h := f.Health()
	assert.Equal(t, foundation.StatusRunning, h.Status)
	assert.Equal(t, foundation.StatusRunning, h.Config.Status)
	assert.Equal(t, foundation.StatusRunning, h.Events.Status)
	assert.Equal(t, foundation.StatusRunning, h.Telemetry.Status)
}

func TestBadOptions(t *testing.T) {
	cases := map[string][]foundation.Option{
		"nil option":          {nil},
		"nil logger":          {foundation.WithLogger(nil)},
		"nil clock":           {foundation.WithClock(nil)},
		"zero capacity":       {foundation.WithEventCapacity(0)},
		"negative shards":     {foundation.WithEventShards(-1)},
		"empty data dir":      {foundation.WithDataDir("")},
		"zero max event size": {foundation.WithMaxEventSize(0)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := foundation.New(opts...)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, foundation.ErrInvalidArgument)
		})
	}
}

func TestNewRefusesInvalidConfig(t *testing.T) {
	cfg := foundation.DefaultConfig()
	cfg.AI.Planning.SamplingRate = 1.5
	_, err := foundation.New(foundation.WithConfig(cfg))
	assert.ErrorIs(t, err, foundation.ErrRange)
	assert.ErrorIs(t, err, foundation.ErrValidation)
}

func TestCloseIdempotentAndWritesFail(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	sub := f.Config().Subscribe()
	esub := f.Events().Subscribe(foundation.Query{})
	require.NoError(t, f.Close())
	require.NoError(t, f.Close())

	assert.ErrorIs(t, f.Config().Update("dev.debug_mode", true), foundation.ErrClosed)
	assert.ErrorIs(t, f.Config().Reset(), foundation.ErrClosed)
	_, err = f.Events().Store(foundation.Event{Type: "x"})
	assert.ErrorIs(t, err, foundation.ErrClosed)
	assert.ErrorIs(t, f.Go("late", func(context.Context) error { return nil }), foundation.ErrClosed)
	// Reads still work and nothing panics.
	assert.Equal(t, uint64(0), f.Config().Get().Version())
	f.Telemetry().Execute("after.close", foundation.Measurements{"counter": 1}, nil)
	_, ok := <-sub.C()
	assert.False(t, ok, "config subscription closed by Close")
	_, ok = <-esub.C()
	assert.False(t, ok, "event subscription closed by Close")
	sub.Close()
	esub.Close()
	assert.Equal(t, foundation.StatusStopped, f.Health().Status)
}

func TestFoundationsAreIndependent(t *testing.T) {
	a, b := newF(t), newF(t)
	require.NoError(t, a.Config().Update("interface.max_results", 7))
	a.Telemetry().Counter("x").Add(3)
	assert.Equal(t, 1000, b.Config().Get().Config().Interface.MaxResults)
	assert.Equal(t, uint64(0), b.Telemetry().Counter("x").Value())
	assert.Equal(t, uint64(3), a.Telemetry().Counter("x").Value())
}

func TestWiringUpdateStoresEventAndCounts(t *testing.T) {
	f := newF(t)
	sub := f.Config().Subscribe()
	defer sub.Close()
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.5))

	ch := <-sub.C()
	assert.Equal(t, foundation.Updated, ch.Kind)
	assert.Equal(t, "ai.planning.sampling_rate", ch.Path)
	assert.Equal(t, 1.0, ch.Old)
	assert.Equal(t, 0.5, ch.New)
	assert.Equal(t, uint64(1), ch.Version)

	evs, err := f.Events().Query(foundation.Query{Type: "config_updated"})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.JSONEq(t, `{"path":"ai.planning.sampling_rate","old":1,"new":0.5,"version":1}`, string(evs[0].Data))
	m := f.Telemetry().Metrics()
	assert.Equal(t, uint64(1), m.Counters[foundation.MetricConfigUpdates])

	// A failed update does none of these.
	err = f.Config().Update("ai.planning.sampling_rate", 2.0)
	require.ErrorIs(t, err, foundation.ErrRange)
	evs, _ = f.Events().Query(foundation.Query{Type: "config_updated"})
	assert.Len(t, evs, 1)
	assert.Equal(t, uint64(1), f.Telemetry().Metrics().Counters[foundation.MetricConfigUpdates])
	select {
	case c := <-sub.C():
		t.Fatalf("unexpected change %+v", c)
	default:
	}

	require.NoError(t, f.Config().Reset())
	ch = <-sub.C()
	assert.Equal(t, foundation.Reset, ch.Kind)
	assert.Equal(t, "", ch.Path)
	assert.Equal(t, uint64(2), ch.Version)
	evs, _ = f.Events().Query(foundation.Query{Type: "config_reset"})
	assert.Len(t, evs, 1)
	assert.Equal(t, uint64(1), f.Telemetry().Metrics().Counters[foundation.MetricConfigResets])
	assert.Equal(t, 1.0, f.Config().Get().Config().AI.Planning.SamplingRate)
}

func TestConfigUpdateSurvivesClosedEventStore(t *testing.T) {
	// Graceful degradation: telemetry off changes nothing else.
	f := newF(t)
	require.NoError(t, f.Config().Update("dev.performance_monitoring", false))
	f.Telemetry().Counter("c").Add(5)
	assert.Equal(t, uint64(0), f.Telemetry().Counter("c").Value())
	require.NoError(t, f.Config().Update("interface.max_results", 5))
	evs, err := f.Events().Query(foundation.Query{Type: "config_updated"})
	require.NoError(t, err)
	assert.Len(t, evs, 2)
	require.NoError(t, f.Config().Update("dev.performance_monitoring", true))
	f.Telemetry().Counter("c").Add(5)
	assert.Equal(t, uint64(5), f.Telemetry().Counter("c").Value())
}

func TestSubscriberNeverBlocksUpdate(t *testing.T) {
	f := newF(t)
	sub := f.Config().Subscribe()
	defer sub.Close()
	for i := 0; i < 500; i++ {
		require.NoError(t, f.Config().Update("interface.max_results", 1+i))
	}
	assert.Greater(t, sub.Dropped(), uint64(0))
	// What arrived came in order.
	var last uint64
	for len(sub.C()) > 0 {
		c := <-sub.C()
		assert.Greater(t, c.Version, last)
		last = c.Version
	}
}

func TestConcurrentCompareAndUpdate(t *testing.T) {
	f := newF(t)
	const workers, each = 4, 50
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done := 0; done < each; {
				s := f.Config().Get()
				n := s.Config().Interface.MaxResults
				err := f.Config().CompareAndUpdate(s.Version(), "interface.max_results", n+1)
				if errors.Is(err, foundation.ErrVersionConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1000+workers*each, f.Config().Get().Config().Interface.MaxResults)
	assert.Equal(t, uint64(workers*each), f.Config().Get().Version())
}

func TestReadersSeeRisingVersions(t *testing.T) {
	f := newF(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for ctx.Err() == nil {
				s := f.Config().Get()
				if s.Version() < last {
					t.Errorf("version went back: %d after %d", s.Version(), last)
					return
				}
				last = s.Version()
				if got := s.Config().Interface.MaxResults; got != 1000+int(s.Version()) {
					t.Errorf("snapshot %d holds max_results %d", s.Version(), got)
					return
				}
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		require.NoError(t, f.Config().Update("interface.max_results", 1000+i))
	}
	cancel()
	wg.Wait()
}

func TestDurableRestart(t *testing.T) {
	dir := t.TempDir()
	f, err := foundation.New(foundation.WithDataDir(dir))
	require.NoError(t, err)
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.25))
	require.NoError(t, f.Config().Update("interface.query_timeout", "3s"))
	require.NoError(t, f.Close())

	g, err := foundation.New(foundation.WithDataDir(dir))
	require.NoError(t, err)
	defer g.Close()
	c := g.Config().Get()
	assert.Equal(t, uint64(2), c.Version())
	assert.Equal(t, 0.25, c.Config().AI.Planning.SamplingRate)
	assert.Equal(t, 3*time.Second, c.Config().Interface.QueryTimeout)
	assert.Equal(t, foundation.StatusRunning, g.Health().Config.Status)
	// Reset goes to the starting config, not to the recovered one.
	require.NoError(t, g.Config().Reset())
	assert.Equal(t, 1.0, g.Config().Get().Config().AI.Planning.SamplingRate)
}

func TestDataDirIsAFile(t *testing.T) {
	file := t.TempDir() + "/file"
	require.NoError(t, writeFile(file, "x"))
	_, err := foundation.New(foundation.WithDataDir(file))
	require.Error(t, err)
	assert.ErrorIs(t, err, foundation.ErrConfigStorage)
}

func TestCorruptDataDirDegradesNotFails(t *testing.T) {
	dir := t.TempDir()
	f, err := foundation.New(foundation.WithDataDir(dir))
	require.NoError(t, err)
	for i := 1; i <= 3; i++ {
		require.NoError(t, f.Config().Update("interface.max_results", 100*i))
	}
	require.NoError(t, f.Close())

	// Flip bytes in the middle of every log file: the tail after the damage
	// can't be trusted.
	logs, err := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, logs)
	for _, p := range logs {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for i := len(b) / 2; i < len(b)/2+8 && i < len(b); i++ {
			b[i] ^= 0xff
		}
		require.NoError(t, os.WriteFile(p, b, 0o600))
	}

	g, err := foundation.New(foundation.WithDataDir(dir))
	require.NoError(t, err, "a corrupt dir must not stop New")
	defer g.Close()
	h := g.Health()
	assert.Equal(t, foundation.StatusDegraded, h.Config.Status)
	assert.NotEmpty(t, h.Config.Reason)
	assert.Equal(t, foundation.StatusDegraded, h.Status)
	// What was recovered is a valid prefix of the history; updates go on.
	v := g.Config().Get().Version()
	assert.Less(t, v, uint64(3))
	require.NoError(t, g.Config().Update("interface.max_results", 7))
	assert.Equal(t, v+1, g.Config().Get().Version())
}
