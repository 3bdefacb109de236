package foundation_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigUpdateMany(t *testing.T) {
	f := newF(t)
	cs := f.Config()
	sub := cs.Subscribe()
	defer sub.Close()
	updates := func() uint64 { return f.Telemetry().Metrics().Counters[foundation.MetricConfigUpdates] }

	require.NoError(t, cs.UpdateMany(map[string]any{
		"interface.max_results":     200.0, // an integral float64, as JSON gives it
		"ai.planning.sampling_rate": 0.25,
		"dev.debug_mode":            true,
	}))
	snap := cs.Get()
	assert.Equal(t, uint64(1), snap.Version(), "one version for three paths")
	cfg := snap.Config()
	assert.Equal(t, 200, cfg.Interface.MaxResults)
	assert.Equal(t, 0.25, cfg.AI.Planning.SamplingRate)
	assert.True(t, cfg.Dev.DebugMode)
	var got []foundation.ConfigChange
	for i := 0; i < 3; i++ {
		got = append(got, <-sub.C())
	}
	assert.Equal(t, []foundation.ConfigChange{
		{Kind: foundation.Updated, Path: "ai.planning.sampling_rate", Old: 1.0, New: 0.25, Version: 1},
		{Kind: foundation.Updated, Path: "dev.debug_mode", Old: false, New: true, Version: 1},
		{Kind: foundation.Updated, Path: "interface.max_results", Old: 1000, New: 200, Version: 1},
	}, got)
	evs, err := f.Events().Query(foundation.Query{Type: "config_updated"})
	require.NoError(t, err)
	assert.Len(t, evs, 3)
	assert.Equal(t, uint64(3), updates())

	// All or none: one bad value refuses the lot.
	for _, c := range []struct {
		values map[string]any
		is     []error
		not    error
	}{
		{map[string]any{"interface.max_results": 7, "ai.planning.sampling_rate": 1.5}, []error{foundation.ErrRange}, nil},
		{map[string]any{"interface.max_results": 7.5}, []error{foundation.ErrTypeMismatch}, nil},
		{map[string]any{"interface.max_results": 7, "ai.provider": "openai"}, []error{foundation.ErrUpdateForbidden}, foundation.ErrPathNotFound},
		{map[string]any{"interface.max_results": 7, "ai.nope": 1}, []error{foundation.ErrUpdateForbidden, foundation.ErrPathNotFound}, nil},
		{map[string]any{"interface.query_timeout": time.Nanosecond}, []error{foundation.ErrRange}, nil},
	} {
		err := cs.UpdateMany(c.values)
		for _, is := range c.is {
			assert.ErrorIs(t, err, is, "%v", c.values)
		}
		if c.not != nil {
			assert.NotErrorIs(t, err, c.not)
		}
		assert.Same(t, snap, cs.Get(), "nothing changed")
	}
	require.NoError(t, cs.UpdateMany(nil))
	assert.Same(t, snap, cs.Get(), "an empty map changes nothing")
	assert.Equal(t, 0, len(sub.C()))
	assert.Equal(t, uint64(3), updates())

	require.NoError(t, f.Close())
	assert.ErrorIs(t, cs.UpdateMany(map[string]any{"dev.debug_mode": false}), foundation.ErrClosed)
}

func TestConfigUpdateManyDurable(t *testing.T) {
	dir := t.TempDir()
	f, err := foundation.New(foundation.WithDataDir(dir))
	require.NoError(t, err)
	require.NoError(t, f.Config().UpdateMany(map[string]any{"interface.max_results": 9, "dev.verbose_logging": true}))
	require.NoError(t, f.Close())
	f = newF(t, foundation.WithDataDir(dir))
	cfg := f.Config().Get().Config()
	assert.Equal(t, 9, cfg.Interface.MaxResults)
	assert.True(t, cfg.Dev.VerboseLogging)
	assert.Equal(t, uint64(1), f.Config().Get().Version())
}

// Unknown paths match ErrPathNotFound and ErrUpdateForbidden; known fixed
// and parent paths only ErrUpdateForbidden.
func TestConfigUpdateUnknownPath(t *testing.T) {
	cs := newF(t).Config()
	for _, p := range []string{"ai.planning.sampling_rat", "", "AI.PLANNING.SAMPLING_RATE", "ai..x", "nope"} {
		err := cs.Update(p, 1)
		assert.ErrorIs(t, err, foundation.ErrUpdateForbidden, p)
		assert.ErrorIs(t, err, foundation.ErrPathNotFound, p)
		assert.NotErrorIs(t, err, foundation.ErrValidation, p)
		assert.Contains(t, err.Error(), "not found")
		_, err = cs.Check(p, 1)
		assert.ErrorIs(t, err, foundation.ErrPathNotFound, p)
	}
	for _, p := range []string{"ai.provider", "dev", "storage.hot.max_events"} {
		err := cs.Update(p, 1)
		assert.ErrorIs(t, err, foundation.ErrUpdateForbidden, p)
		assert.NotErrorIs(t, err, foundation.ErrPathNotFound, p)
	}
	// Update takes an integral float64 for an integer field, never a fractional one.
	require.NoError(t, cs.Update("interface.max_results", 20.0))
	assert.Equal(t, 20, cs.Get().Config().Interface.MaxResults)
	assert.ErrorIs(t, cs.Update("interface.max_results", 20.5), foundation.ErrTypeMismatch)
}

// UpdateMany racing Update: every call that returned nil is one version,
// the changes of one UpdateMany share a version, versions arrive in order.
func TestConfigUpdateManyStress(t *testing.T) {
	f := newF(t)
	cs := f.Config()
	sub := cs.Subscribe()
	defer sub.Close()
	const writers, rounds = 4, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				var err error
				if (i+w)%2 == 0 {
					err = cs.UpdateMany(map[string]any{"interface.max_results": 1 + i, "capture.processing.batch_size": 1 + i})
				} else {
					err = cs.Update("interface.max_results", 1+i)
				}
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}(w)
	}
	done := make(chan struct{})
	var last uint64
	var seen int
	go func() {
		defer close(done)
		for ch := range sub.C() {
			if ch.Version < last {
				t.Errorf("version %d after %d", ch.Version, last)
			}
			last = ch.Version
			seen++
		}
	}()
	wg.Wait()
	assert.Equal(t, writers*rounds, ok)
	assert.Equal(t, uint64(writers*rounds), cs.Get().Version())
	sub.Close()
	<-done
	assert.GreaterOrEqual(t, uint64(last), uint64(0))
	t.Logf("%d changes seen, %d dropped", seen, sub.Dropped())
}

// The change events' Data are built in a reused buffer: each stored event
// must keep its own bytes after later changes.
func TestConfigChangeEventsKeepTheirData(t *testing.T) {
	f := newF(t)
	for i := 1; i <= 5; i++ {
		require.NoError(t, f.Config().Update("interface.max_results", i*10))
	}
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.5))
	evs, err := f.Events().Query(foundation.Query{Type: "config_updated"})
	require.NoError(t, err)
	require.Len(t, evs, 6)
	for i, ev := range evs[:5] {
		assert.JSONEq(t, fmt.Sprintf(`{"path":"interface.max_results","old":%d,"new":%d,"version":%d}`,
			max(i*10, 1000*(1-min(i, 1))), (i+1)*10, i+1), string(ev.Data))
	}
	assert.JSONEq(t, `{"path":"ai.planning.sampling_rate","old":1,"new":0.5,"version":6}`, string(evs[5].Data))
}
