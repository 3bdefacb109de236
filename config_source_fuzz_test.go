package foundation

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elixirscope-go/foundation/cfgsnap"
)

// fuzzSources is a loader whose secret references resolve against a fixed
// environment and an empty directory.
func fuzzSources(t testing.TB, dir, file string) *configSources {
	sc, err := cfgsnap.NewSchema[Config]()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEY": "sk-fuzz"}
	return &configSources{
		opts: sourceSettings{file: file}, sc: sc, base: DefaultConfig(), start: DefaultConfig(),
		reader: &sourceReader{sc: sc, dir: dir, lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
	}
}

// checkLoad is the property every decoder path must hold: no panic; an
// error is an *Error matching one of the documented sentinels; a success
// is a config that validates.
func checkLoad(t *testing.T, src *configSources, data []byte) {
	es, err := src.fileEntries(data)
	var cfg Config
	if err == nil {
		cfg, err = src.build(es)
	}
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("not an *Error: %T %v", err, err)
		}
		for _, s := range []error{ErrConfigSource, ErrPathNotFound, ErrTypeMismatch, ErrValidation} {
			if errors.Is(err, s) {
				if !strings.Contains(err.Error(), src.opts.file) {
					t.Fatalf("error does not name the file: %v", err)
				}
				return
			}
		}
		t.Fatalf("error matches no source sentinel: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("loaded an invalid config: %v", err)
	}
	for _, e := range es {
		if fi, ok := src.sc.Field(e.path); !ok || fi.Parent {
			t.Fatalf("entry for a non-leaf path %q", e.path)
		}
	}
}

func fuzzFile(f *testing.F, name string, seeds []string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	src := fuzzSources(f, f.TempDir(), filepath.Join("/fuzz", name))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoad(t, src, data)
	})
}

func FuzzConfigJSON(f *testing.F) {
	fuzzFile(f, "app.json", []string{
		`{}`, `{"ai": {"planning": {"sampling_rate": 0.5}}}`, `{"ai.planning.sampling_rate": 1}`,
		`{"capture": {"processing": {"batch_size": 2.0, "flush_interval": "20ms"}}}`,
		`{"ai": {"api_key": {"env": "KEY"}}}`, `{"ai": {"api_key": {"file": "k"}}}`,
		`{"dev": {"debug_mode": true}, "dev.debug_mode": false}`, `{"ai": [1, {"a": 2}]}`,
		`{"interface": {"max_results": 1e400}}`, `{"a": null}`, `[`, `{"ai": {"model": "x"}} {}`,
		`{"storage": {"hot": {"max_events": 9223372036854775808}}}`, "{\n\"ai\"\n:\n{}}",
	})
}

func FuzzConfigYAML(f *testing.F) {
	fuzzFile(f, "app.yaml", []string{
		"", "# c\n", "ai:\n  planning:\n    sampling_rate: 0.5\n", "ai.planning.sampling_rate: 0.5\n",
		"capture:\n  processing: {batch_size: 2.0, flush_interval: 20ms}\n", "ai:\n  api_key: {env: KEY}\n",
		"a: &a {x: 1}\nb: *a\n", "ai: &x\n  model: *x\n", "- 1\n- 2\n", "ai: !!binary aGVsbG8=\n",
		"ai.model: a\n---\nai.model: b\n", "dev:\n  debug_mode: yes\n", "? [a]\n: b\n", "<<: {ai: {}}\n",
		"storage:\n  hot:\n    max_events: 0x10\n", "interface:\n  query_timeout: .inf\n",
	})
}

func FuzzConfigTOML(f *testing.F) {
	fuzzFile(f, "app.toml", []string{
		"", "[ai.planning]\nsampling_rate = 0.5\n", "ai.planning.sampling_rate = 0.5\n",
		"[capture.processing]\nbatch_size = 2.0\nflush_interval = \"20ms\"\n", "ai.api_key = { env = \"KEY\" }\n",
		"[[ai]]\nmodel = \"x\"\n", "[ai]\nmodel = 1979-05-27\n", "[ai]\nmodel = \"a\"\nmodel = \"b\"\n",
		"storage.hot.max_events = 0x10\n", "interface.max_results = inf\n", "a = {b = {c = [1, 2]}}\n",
		"'ai'.\"planning\".sampling_rate = 1\n",
	})
}

func FuzzConfigEnv(f *testing.F) {
	for _, s := range []string{
		"FOUNDATION_AI__PLANNING__SAMPLING_RATE=0.5", "FOUNDATION_DEV__DEBUG_MODE=1\nFOUNDATION_INTERFACE__QUERY_TIMEOUT=3s",
		"FOUNDATION_AI__API_KEY_FILE=/nonexistent", "FOUNDATION_=x", "FOUNDATION_AI____MODEL=x", "OTHER=1",
		"FOUNDATION_STORAGE__HOT__MAX_EVENTS=2.0", "FOUNDATION_AI__PROVIDER=openai",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		src := fuzzSources(t, dir, "/fuzz/none.yaml")
		es, err := src.reader.envEntries("FOUNDATION", strings.Split(s, "\n"))
		if err == nil {
			src.env = es
			var cfg Config
			if cfg, err = src.build(nil); err == nil {
				if err := cfg.Validate(); err != nil {
					t.Fatalf("loaded an invalid config: %v", err)
				}
				return
			}
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("not an *Error: %T %v", err, err)
		}
		if !errors.Is(err, ErrPathNotFound) && !errors.Is(err, ErrValidation) && !errors.Is(err, ErrConfigSource) {
			t.Fatalf("error matches no source sentinel: %v", err)
		}
		if !strings.Contains(err.Error(), "environment variable FOUNDATION_") {
			t.Fatalf("error does not name the variable: %v", err)
		}
	})
}
