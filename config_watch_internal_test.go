package foundation

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The watcher watches two directories at most, however many ConfigMap
// updates (each in a new ..<timestamp> directory) it has followed.
func TestConfigWatcherDirsBounded(t *testing.T) {
	dir := t.TempDir()
	swap := func(gen int, rate float64) {
		ts := fmt.Sprintf("..gen_%03d", gen)
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ts, "c.yaml"), []byte(fmt.Sprintf("ai.planning.sampling_rate: %v\n", rate)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if gen > 0 {
			os.RemoveAll(filepath.Join(dir, fmt.Sprintf("..gen_%03d", gen-1)))
		}
	}
	swap(0, 0.5)
	p := filepath.Join(dir, "c.yaml")
	if err := os.Symlink(filepath.Join("..data", "c.yaml"), p); err != nil {
		t.Fatal(err)
	}
	src, err := loadSources(DefaultConfig(), sourceSettings{file: p, watch: true})
	if err != nil {
		t.Fatal(err)
	}
	var applied []any
	w := &configWatcher{src: src, path: p, debounce: configReloadDebounce,
		apply:  func(m map[string]any) error { applied = append(applied, m["ai.planning.sampling_rate"]); return nil },
		failed: func(r string) { t.Errorf("reload failed: %s", r) },
		ok:     func() {},
		log:    slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := w.start(); err != nil {
		t.Fatal(err)
	}
	defer w.fw.Close()
	for gen := 1; gen <= 20; gen++ {
		swap(gen, float64(gen)/100)
		w.check(w.fw)
		if len(w.dirs) > 2 {
			t.Fatalf("after %d swaps the watcher holds %d directories: %v", gen, len(w.dirs), w.dirs)
		}
	}
	if len(applied) != 20 || applied[19] != 0.2 {
		t.Fatalf("applied %v", applied)
	}
}
