package foundation_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Generous guards: the watcher debounces 100 ms and the machine may be loaded.
const (
	watchWait = 20 * time.Second
	watchTick = 5 * time.Millisecond
)

func rateFile(rate float64) string {
	return fmt.Sprintf("ai:\n  provider: mock\n  planning:\n    sampling_rate: %v\n", rate)
}

// watched is a Foundation watching a config file, with a subscription that
// records every change it publishes.
type watched struct {
	t    *testing.T
	f    *foundation.Foundation
	path string
	sub  *foundation.ConfigSubscription
	seen []foundation.ConfigChange
}

func newWatched(t *testing.T, path string, opts ...foundation.Option) *watched {
	t.Helper()
	f := newF(t, append([]foundation.Option{foundation.WithConfigWatch(path)}, opts...)...)
	w := &watched{t: t, f: f, path: path, sub: f.Config().Subscribe()}
	t.Cleanup(w.sub.Close)
	return w
}

func (w *watched) rate() float64 { return w.f.Config().Get().Config().AI.Planning.SamplingRate }

func (w *watched) failures() uint64 {
	return w.f.Telemetry().Metrics().Counters[foundation.MetricConfigReloadFailures]
}

// drain collects the published changes; every one must be of a valid config.
func (w *watched) drain() {
	for {
		select {
		case ch := <-w.sub.C():
			w.seen = append(w.seen, ch)
		default:
			return
		}
	}
}

func (w *watched) waitRate(want float64) {
	w.t.Helper()
	require.Eventually(w.t, func() bool { return w.rate() == want }, watchWait, watchTick,
		"sampling_rate never became %v (is %v)", want, w.rate())
}

func (w *watched) waitFailures(n uint64) {
	w.t.Helper()
	require.Eventually(w.t, func() bool { return w.failures() >= n }, watchWait, watchTick,
		"reload failures never reached %d (are %d)", n, w.failures())
}

func (w *watched) health() foundation.ServiceHealth { return w.f.Health().Config }

func TestConfigWatchTruncateAndWrite(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	w := newWatched(t, p)
	require.Equal(t, 0.5, w.rate())

	// In place: truncate, then a partial write that is seen before the rest.
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	require.NoError(t, err)
	full := rateFile(0.25)
	// One write, so the watcher cannot read the file between two halves
	// of the partial content (a rate with no value is another error).
	_, err = fh.WriteString(full[:len(full)-6] + "\n  [") // "ai:\n  provider: mock\n  planning:\n    sampling_rate: 0\n  ["
	require.NoError(t, err)
	require.NoError(t, fh.Sync())
	w.waitFailures(1)
	assert.Equal(t, 0.5, w.rate(), "the last good config stays")
	assert.Equal(t, uint64(0), w.f.Config().Get().Version())
	h := w.health()
	assert.Equal(t, foundation.StatusDegraded, h.Status)
	assert.Contains(t, h.Reason, p)
	assert.Contains(t, h.Reason, "invalid YAML")

	// The writer finishes: truncate again and write it whole.
	require.NoError(t, fh.Truncate(0))
	_, err = fh.WriteAt([]byte(full), 0)
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	w.waitRate(0.25)
	require.Eventually(t, func() bool { return w.health().Status == foundation.StatusRunning }, watchWait, watchTick)

	w.drain()
	require.Len(t, w.seen, 1, "one change, never a partial config")
	assert.Equal(t, foundation.ConfigChange{Kind: foundation.Updated, Path: "ai.planning.sampling_rate", Old: 0.5, New: 0.25, Version: 1}, w.seen[0])
	evs, err := w.f.Events().Query(foundation.Query{Type: foundation.ConfigReloadFailedEvent})
	require.NoError(t, err)
	require.Len(t, evs, 1)
	var data struct{ File, Reason string }
	require.NoError(t, json.Unmarshal(evs[0].Data, &data))
	assert.Equal(t, p, data.File)
	assert.Contains(t, data.Reason, "invalid YAML")
}

func TestConfigWatchAtomicRename(t *testing.T) {
	p := writeConfig(t, "app.json", `{"ai": {"planning": {"sampling_rate": 0.5}}}`)
	w := newWatched(t, p)
	for i, rate := range []float64{0.4, 0.3, 0.2} {
		tmp := filepath.Join(filepath.Dir(p), fmt.Sprintf(".app.json.%d.tmp", i))
		require.NoError(t, writeFile(tmp, fmt.Sprintf(`{"ai": {"planning": {"sampling_rate": %v}}}`, rate)))
		require.NoError(t, os.Rename(tmp, p))
		w.waitRate(rate)
	}
	assert.Equal(t, uint64(3), w.f.Config().Get().Version())
	assert.Zero(t, w.failures())
}

// A Kubernetes ConfigMap volume: config.yaml -> ..data/config.yaml,
// ..data -> ..<timestamp>; an update writes a new timestamped directory and
// swaps ..data by renaming a new symlink over it, then removes the old one.
func TestConfigWatchKubernetesSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	gen := 0
	publish := func(body string) {
		gen++
		ts := fmt.Sprintf("..2026_12_06_%02d", gen)
		require.NoError(t, os.Mkdir(filepath.Join(dir, ts), 0o755))
		require.NoError(t, writeFile(filepath.Join(dir, ts, "config.toml"), body))
		require.NoError(t, os.Symlink(ts, filepath.Join(dir, "..data_tmp")))
		require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
		if gen > 1 {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, fmt.Sprintf("..2026_12_06_%02d", gen-1))))
		}
	}
	publish("[ai.planning]\nsampling_rate = 0.5\n")
	p := filepath.Join(dir, "config.toml")
	require.NoError(t, os.Symlink(filepath.Join("..data", "config.toml"), p))

	w := newWatched(t, p)
	require.Equal(t, 0.5, w.rate())
	publish("[ai.planning]\nsampling_rate = 0.125\n")
	w.waitRate(0.125)
	for _, r := range []float64{0.0625, 0.03125, 0.015625} {
		publish(fmt.Sprintf("[ai.planning]\nsampling_rate = %v\n", r))
		w.waitRate(r)
	}
	assert.Zero(t, w.failures())
	assert.Equal(t, foundation.StatusRunning, w.health().Status)
}

func TestConfigWatchRemoveAndRecreate(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	w := newWatched(t, p)
	require.NoError(t, os.Remove(p))
	w.waitFailures(1)
	assert.Equal(t, 0.5, w.rate(), "a missing file publishes nothing")
	assert.Contains(t, w.health().Reason, "missing")

	require.NoError(t, writeFile(p, rateFile(0.75)))
	w.waitRate(0.75)
	require.Eventually(t, func() bool { return w.health().Status == foundation.StatusRunning }, watchWait, watchTick)

	// Removed and re-created with the same content: health recovers, nothing published.
	require.NoError(t, os.Remove(p))
	w.waitFailures(2)
	require.NoError(t, writeFile(p, rateFile(0.75)))
	require.Eventually(t, func() bool { return w.health().Status == foundation.StatusRunning }, watchWait, watchTick)
	assert.Equal(t, uint64(1), w.f.Config().Get().Version())
}

func TestConfigWatchOtherFilesIgnored(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	w := newWatched(t, p)
	dir := filepath.Dir(p)
	for i := 0; i < 20; i++ {
		require.NoError(t, writeFile(filepath.Join(dir, fmt.Sprintf("other-%d.yaml", i%3)), "not: [valid"))
		require.NoError(t, os.Rename(filepath.Join(dir, fmt.Sprintf("other-%d.yaml", i%3)), filepath.Join(dir, "moved.yaml")))
	}
	// A no-op save of the file itself publishes nothing either.
	require.NoError(t, writeFile(p, rateFile(0.5)))
	require.NoError(t, writeFile(p, rateFile(0.3)))
	w.waitRate(0.3)
	w.drain()
	assert.Len(t, w.seen, 1)
	assert.Equal(t, uint64(1), w.f.Config().Get().Version())
	assert.Zero(t, w.failures())
}

func TestConfigWatchRefusesBadAndFixedChanges(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	w := newWatched(t, p)

	// A value the rules refuse.
	require.NoError(t, writeFile(p, rateFile(1.5)))
	w.waitFailures(1)
	assert.Contains(t, w.health().Reason, "ai.planning.sampling_rate")
	assert.Contains(t, w.health().Reason, p+":4")

	// A change to a path that needs a restart, beside an updatable one: all or nothing.
	require.NoError(t, writeFile(p, "ai:\n  provider: openai\n  planning:\n    sampling_rate: 0.2\n"))
	w.waitFailures(2)
	assert.Contains(t, w.health().Reason, "ai.provider")
	assert.Contains(t, w.health().Reason, "restart")
	assert.Equal(t, 0.5, w.rate())
	assert.Equal(t, foundation.ProviderMock, w.f.Config().Get().Config().AI.Provider)

	// An unknown key.
	require.NoError(t, writeFile(p, rateFile(0.2)+"  modle: x\n"))
	w.waitFailures(3)
	assert.Contains(t, w.health().Reason, "ai.modle")

	// The next good save recovers.
	require.NoError(t, writeFile(p, rateFile(0.2)))
	w.waitRate(0.2)
	assert.Equal(t, foundation.StatusRunning, w.health().Status)
	assert.Equal(t, uint64(1), w.f.Config().Get().Version())
	evs, err := w.f.Events().Query(foundation.Query{Type: foundation.ConfigReloadFailedEvent})
	require.NoError(t, err)
	assert.Len(t, evs, 3)
}

// A reload of several paths is one change: one version, one notification
// and one event per path.
func TestConfigWatchManyPathsOneVersion(t *testing.T) {
	p := writeConfig(t, "app.toml", "[ai.planning]\nsampling_rate = 0.5\n")
	t.Setenv("APP_DEV__DEBUG_MODE", "false")
	w := newWatched(t, p, foundation.WithEnv("APP"))
	require.NoError(t, writeFile(p, `
[ai.planning]
sampling_rate = 0.25
[interface]
max_results = 77
query_timeout = "3s"
[dev]
debug_mode = true # the environment wins: not applied
`))
	w.waitRate(0.25)
	w.drain()
	require.Len(t, w.seen, 3)
	for _, ch := range w.seen {
		assert.Equal(t, uint64(1), ch.Version)
	}
	assert.Equal(t, []string{"ai.planning.sampling_rate", "interface.max_results", "interface.query_timeout"},
		[]string{w.seen[0].Path, w.seen[1].Path, w.seen[2].Path})
	cfg := w.f.Config().Get().Config()
	assert.Equal(t, 77, cfg.Interface.MaxResults)
	assert.Equal(t, 3*time.Second, cfg.Interface.QueryTimeout)
	assert.False(t, cfg.Dev.DebugMode)
	evs, err := w.f.Events().Query(foundation.Query{Type: "config_updated"})
	require.NoError(t, err)
	assert.Len(t, evs, 3)
}

// A burst of saves ends on the last one; the file is never seen half-way
// as a published config.
func TestConfigWatchBurst(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	w := newWatched(t, p)
	for i := 1; i <= 50; i++ {
		require.NoError(t, writeFile(p, rateFile(float64(i)/100)))
	}
	w.waitRate(0.5)
	// 0.5 was also the start value: wait for the version to settle on a change.
	require.NoError(t, writeFile(p, rateFile(0.51)))
	w.waitRate(0.51)
	w.drain()
	for _, ch := range w.seen {
		v := ch.New.(float64)
		assert.True(t, v > 0 && v <= 0.51, "published %v", v)
	}
	t.Logf("50 saves + 1 published %d versions", len(w.seen))
}

// Runtime updates and reloads interleave; the file's changes are diffs
// against the last good file, so a runtime update of another path stays.
func TestConfigWatchKeepsRuntimeUpdates(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	w := newWatched(t, p)
	require.NoError(t, w.f.Config().Update("interface.max_results", 5))
	require.NoError(t, writeFile(p, rateFile(0.125)))
	w.waitRate(0.125)
	assert.Equal(t, 5, w.f.Config().Get().Config().Interface.MaxResults)
}

func TestConfigWatchCloseStopsIt(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	f, err := foundation.New(foundation.WithConfigWatch(p))
	require.NoError(t, err)
	assert.Contains(t, f.Health().Tasks, "foundation.config_watch")
	require.NoError(t, f.Close())
	// goleak in TestMain checks that the watcher's goroutines are gone.
	require.NoError(t, writeFile(p, strings.Replace(rateFile(0.5), "0.5", "0.1", 1)))
}

// The watched directory removed: the watcher says so in Health and stops;
// the last good config stays.
func TestConfigWatchDirectoryRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "conf")
	require.NoError(t, os.Mkdir(dir, 0o700))
	p := filepath.Join(dir, "app.yaml")
	require.NoError(t, writeFile(p, rateFile(0.5)))
	w := newWatched(t, p)
	require.NoError(t, os.RemoveAll(dir))
	require.Eventually(t, func() bool { return strings.Contains(w.health().Reason, "was removed") }, watchWait, watchTick,
		"health: %+v", w.health())
	assert.Equal(t, 0.5, w.rate())
	require.Eventually(t, func() bool { return w.f.Health().Tasks["foundation.config_watch"].State == foundation.TaskCompleted }, watchWait, watchTick)
}

// Reloads racing runtime Updates: every change is one version, the events
// tell them all in version order, and the file's last save wins its path.
func TestConfigWatchRacesUpdates(t *testing.T) {
	p := writeConfig(t, "app.yaml", rateFile(0.5))
	base := foundation.DefaultConfig()
	base.Interface.MaxResults = 1_000_000 // the query below reads every event
	w := newWatched(t, p, foundation.WithConfig(base))
	stop := make(chan struct{})
	var updates sync.WaitGroup
	var done [2]int
	for g := 0; g < 2; g++ {
		updates.Add(1)
		go func(g int) {
			defer updates.Done()
			for i := 1; i <= 20_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := w.f.Config().Update("capture.processing.batch_size", 1+i%500); err != nil {
					t.Errorf("update: %v", err)
					return
				}
				done[g]++
			}
		}(g)
	}
	rates := []float64{0.1, 0.2, 0.3, 0.4}
	for _, r := range rates {
		require.NoError(t, writeFile(p, rateFile(r)))
		w.waitRate(r)
	}
	close(stop)
	updates.Wait()
	version := w.f.Config().Get().Version()
	assert.Equal(t, uint64(done[0]+done[1]+len(rates)), version)
	evs, err := w.f.Events().Query(foundation.Query{Type: "config_updated", Limit: 1_000_000})
	require.NoError(t, err)
	require.Equal(t, int(version), len(evs), "one event per version")
	var rateChanges []float64
	for i, ev := range evs {
		var d struct {
			Path    string
			New     any
			Version uint64
		}
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		assert.Equal(t, uint64(i+1), d.Version, "events in version order, none lost")
		if d.Path == "ai.planning.sampling_rate" {
			rateChanges = append(rateChanges, d.New.(float64))
		}
	}
	assert.Equal(t, rates, rateChanges)
}
