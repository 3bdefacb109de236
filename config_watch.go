package foundation

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// configReloadDebounce is how long the watcher waits after the last event
// in a burst before it reads the file: an editor's save or a ConfigMap
// update is several events, a truncate-and-write at least two.
const configReloadDebounce = 100 * time.Millisecond

// MetricConfigReloadFailures counts config file reloads refused by
// [WithConfigWatch]'s watcher (a file that does not parse or validate, a
// change to a path that is not updatable, a missing file). Each is also a
// config_reload_failed event (Data: JSON {"file", "reason"}), a warning in the
// log, and the config service's Health is degraded with the reason until a
// good file is read.
const MetricConfigReloadFailures = "foundation.config_reload_failures"

// ConfigReloadFailedEvent is the type of the event stored when a config
// file reload is refused.
const ConfigReloadFailedEvent = "config_reload_failed"

// configWatcher reloads a config file when it changes. It holds no
// *Foundation: what it does on success and failure is given as hooks.
//
// It watches the file's directory (and, when the path is a symlink, the
// directory of its target), so that a rename over the file (an editor's
// atomic save), a symlink swap (a Kubernetes ConfigMap's ..data) or a
// remove + re-create are seen like in-place writes. Events are debounced;
// then the file is read whole and compared with the last good content by
// SHA-256, so other files in the directory and no-op saves publish nothing.
// While idle it blocks on fsnotify's channels: no polling.
type configWatcher struct {
	src      *configSources
	path     string
	debounce time.Duration

	apply  func(map[string]any) error // ConfigService.UpdateMany
	failed func(reason string)        // a reload was refused: event, counter, Health, log
	ok     func()                     // a good file (again): clears Health
	log    *slog.Logger

	// Set by start (in New), then owned by run's goroutine.
	fw     *fsnotify.Watcher
	dirs   map[string]bool // watched directories
	target string          // the path's symlink target, resolved at the last check
}

// start creates the fsnotify watcher and adds the directories. New calls
// it, so that nothing that happens once New returns is missed.
func (w *configWatcher) start() error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config watch: %w", err)
	}
	w.dirs = map[string]bool{}
	if err := w.watchDirs(fw); err != nil {
		fw.Close()
		return err
	}
	w.fw = fw
	return nil
}

// run watches until ctx is done, then closes the watcher. An error
// (fsnotify failing) returns, and the supervisor restarts it.
func (w *configWatcher) run(ctx context.Context) error {
	if w.fw == nil {
		if err := w.start(); err != nil {
			return err
		}
	}
	fw := w.fw
	defer func() { fw.Close(); w.fw = nil }()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	// The file may have changed between New reading it and the watch starting.
	w.check(fw)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, open := <-fw.Events:
			if !open {
				return errors.New("config watch: fsnotify closed its events")
			}
			if ev.Has(fsnotify.Remove|fsnotify.Rename) && ev.Name == filepath.Dir(w.path) {
				// The directory itself is gone: nothing can be watched there
				// any more. Say so and stop (the task is transient).
				w.fail("config directory %s was removed: %s is no longer watched (restart to watch it again); keeping the last good config",
					ev.Name, w.path)
				return nil
			}
			if w.relevant(ev) {
				timer.Reset(w.debounce)
			}
		case err, open := <-fw.Errors:
			if !open {
				return errors.New("config watch: fsnotify closed its errors")
			}
			w.log.Warn("config watch: fsnotify error; re-reading the file", "file", w.path, "error", err)
			timer.Reset(w.debounce)
		case <-timer.C:
			w.check(fw)
		}
	}
}

// watchDirs watches the directories of the path and of its symlink target,
// and no others (a ConfigMap's old ..<timestamp> directory is dropped).
func (w *configWatcher) watchDirs(fw *fsnotify.Watcher) error {
	dirs := []string{filepath.Dir(w.path)}
	if t, err := filepath.EvalSymlinks(w.path); err == nil {
		w.target = t
		dirs = append(dirs, filepath.Dir(t))
	}
	for d := range w.dirs {
		if d != dirs[0] && d != dirs[len(dirs)-1] {
			_ = fw.Remove(d) // may be gone already
			delete(w.dirs, d)
		}
	}
	for _, d := range dirs {
		if w.dirs[d] {
			continue
		}
		if err := fw.Add(d); err != nil {
			if len(w.dirs) == 0 {
				return fmt.Errorf("config watch %s: %w", d, err)
			}
			continue // the target's directory may come and go (a ConfigMap's ..2024_… dirs)
		}
		w.dirs[d] = true
	}
	return nil
}

// relevant says whether an event may change what the path reads: the file
// itself, a Kubernetes-style "..data" entry beside it, or the symlink's
// target.
func (w *configWatcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	base := filepath.Base(ev.Name)
	if filepath.Dir(ev.Name) == filepath.Dir(w.path) && (base == filepath.Base(w.path) || strings.HasPrefix(base, "..")) {
		return true
	}
	return w.target != "" && ev.Name == w.target
}

// check reads the file and publishes what changed, or reports why not.
func (w *configWatcher) check(fw *fsnotify.Watcher) {
	_ = w.watchDirs(fw) // a swapped symlink may point into a new directory
	data, err := readFileCapped(w.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.fail("config file %s is missing; keeping the last good config", w.path)
			return
		}
		w.fail("config file %s not reloaded: %v", w.path, err)
		return
	}
	if len(data) == 0 {
		// A truncate-and-write seen between the two: the write follows.
		w.log.Debug("config watch: empty file ignored (a write in progress)", "file", w.path)
		return
	}
	h := sha256.Sum256(data)
	if h == w.src.hash {
		w.ok()
		return
	}
	es, err := w.src.fileEntries(data)
	if err != nil {
		w.fail("config file %s not reloaded: %v", w.path, err)
		return
	}
	next, err := w.src.build(es)
	if err != nil {
		w.fail("config file %s not reloaded: %v", w.path, err)
		return
	}
	changed := w.src.changedPaths(&w.src.start, &next)
	values := make(map[string]any, len(changed))
	var fixed []string
	updatable := map[string]bool{}
	for _, p := range updatablePaths {
		updatable[p] = true
	}
	for _, p := range changed {
		if !updatable[p] {
			fixed = append(fixed, p)
			continue
		}
		values[p], _ = w.src.sc.Get(&next, p)
	}
	if len(fixed) > 0 {
		w.fail("config file %s not reloaded: %s changed, which needs a restart (not updatable at runtime)",
			w.path, strings.Join(fixed, ", "))
		return
	}
	if err := w.apply(values); err != nil {
		w.fail("config file %s not reloaded: %v", w.path, err)
		return
	}
	w.src.file, w.src.hash, w.src.start = es, h, next
	w.ok()
	if len(values) > 0 {
		w.log.Info("config reloaded from file", "file", w.path, "paths", changed)
	}
}

func (w *configWatcher) fail(format string, args ...any) {
	w.failed(fmt.Sprintf(format, args...))
}

// reloadFailed wires a watcher's failures to the config service's Health,
// an event, a counter and the log.
func reloadFailed(cs *ConfigService, store func(Event) error, count func(), log *slog.Logger, file string) func(string) {
	return func(reason string) {
		cs.setReloadProblem(reason)
		count()
		log.Warn("config reload failed", "file", file, "reason", reason)
		data, err := json.Marshal(struct {
			File   string `json:"file"`
			Reason string `json:"reason"`
		}{file, reason})
		if err == nil {
			err = store(Event{Type: ConfigReloadFailedEvent, Data: data})
		}
		if err != nil {
			log.Warn("config reload failure not recorded as an event", "error", err)
		}
	}
}

// watchConfig starts the supervised task that reloads the config file. It
// only wires: the watcher is given the config service's UpdateMany and
// Health setters, the event store's Store, a counter and the log as hooks.
func (f *Foundation) watchConfig(src *configSources) error {
	cs, es := f.config, f.events
	failures := f.telemetry.Counter(MetricConfigReloadFailures)
	w := &configWatcher{
		src:      src,
		path:     src.opts.file,
		debounce: configReloadDebounce,
		apply:    cs.UpdateMany,
		failed: reloadFailed(cs, func(ev Event) error { _, err := es.Store(ev); return err },
			func() { failures.Add(1) }, f.log, src.opts.file),
		ok:  func() { cs.setReloadProblem("") },
		log: f.log,
	}
	if err := w.start(); err != nil {
		return newError(kConfigSource, err, "config watch: cannot watch "+src.opts.file, "file", src.opts.file)
	}
	if err := f.Go("foundation.config_watch", w.run, WithRestart(Transient)); err != nil {
		w.fw.Close()
		return err
	}
	return nil
}
