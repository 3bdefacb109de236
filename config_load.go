package foundation

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"time"

	"github.com/elixirscope-go/foundation/cfgsnap"
)

var durationType = reflect.TypeFor[time.Duration]()

// configSources is what New read from the config file and the environment,
// kept for the precedence log and for hot reload.
type configSources struct {
	opts   sourceSettings
	sc     *cfgsnap.Schema[Config]
	reader *sourceReader
	base   Config  // defaults or WithConfig, with the sizing options
	start  Config  // base + file + environment: what New started from, then the last good reload
	file   []entry // the file's entries (last good file)
	env    []entry // the environment's entries (read once, at New)
	hash   [sha256.Size]byte
}

// loadSources applies the config file and the environment over base.
func loadSources(base Config, opts sourceSettings) (*configSources, error) {
	src := &configSources{opts: opts, base: base, start: base}
	if opts.file == "" && opts.envPrefix == "" {
		return src, nil // the schema is built only if reconcile needs it
	}
	if err := src.schema(); err != nil {
		return nil, err
	}
	var err error
	if opts.file != "" {
		src.reader.dir = filepath.Dir(opts.file)
		data, err := readFileCapped(opts.file)
		if err != nil {
			return nil, err
		}
		if src.file, err = src.fileEntries(data); err != nil {
			return nil, err
		}
		src.hash = sha256.Sum256(data)
	}
	if opts.envPrefix != "" {
		if src.env, err = src.reader.envEntries(opts.envPrefix, os.Environ()); err != nil {
			return nil, err
		}
	}
	if src.start, err = src.build(src.file); err != nil {
		return nil, err
	}
	return src, nil
}

// schema builds the schema and the reader, once.
func (src *configSources) schema() error {
	if src.sc != nil {
		return nil
	}
	sc, err := cfgsnap.NewSchema[Config]()
	if err != nil {
		return newError(kInternal, err, "config schema")
	}
	src.sc, src.reader = sc, &sourceReader{sc: sc, lookupEnv: os.LookupEnv}
	return nil
}

// readFileCapped reads a config file of at most MaxConfigFileSize bytes.
func readFileCapped(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		if errors.Is(err, errNotRegular) {
			return nil, sourceErr(nil, path, "not a regular file")
		}
		return nil, sourceErr(err, path, "cannot read the config file")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFileSize+1))
	if err != nil {
		return nil, sourceErr(err, path, "cannot read the config file")
	}
	if len(data) > MaxConfigFileSize {
		return nil, sourceErr(nil, path, fmt.Sprintf("larger than %d bytes", MaxConfigFileSize))
	}
	return data, nil
}

var errNotRegular = errors.New("not a regular file")

// openRegular opens name for reading and refuses anything but a regular
// file, checked on the opened file: a FIFO or a device swapped in after a
// check by name could block New or the watcher forever, or never end.
// O_NONBLOCK keeps the open of a FIFO from waiting for a writer; it does
// nothing to a regular file's reads.
func openRegular(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errNotRegular
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// fileEntries decodes a config file's contents.
func (src *configSources) fileEntries(data []byte) ([]entry, error) {
	root, err := decodeConfig(src.opts.file, data)
	if err != nil {
		return nil, err
	}
	return src.reader.entries(&decoder{file: src.opts.file}, root)
}

// build applies file entries, then the environment, over base, and
// validates the result; an error names the source of the offending value.
func (src *configSources) build(file []entry) (Config, error) {
	cfg := src.base
	if err := src.reader.apply(&cfg, file); err != nil {
		return Config{}, err
	}
	if err := src.reader.apply(&cfg, src.env); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, atSource(err, append(append([]entry(nil), file...), src.env...))
	}
	return cfg, nil
}

// origin names where the start value of path came from.
func (src *configSources) origin(path string) string {
	for _, es := range [][]entry{src.env, src.file} {
		for i := len(es) - 1; i >= 0; i-- {
			if es[i].path == path {
				return es[i].where
			}
		}
	}
	return "the start config"
}

// reconcile applies the precedence rule to what the config store recovered
// from the data dir: updatable paths keep their recovered (runtime) values,
// every other path takes the start value (the data dir holds whole configs
// in its snapshots, which would otherwise bring back a file's old fixed
// settings). It logs one line per path whose value came from the data dir
// rather than the start sources. When fixed paths differ, the reconciled
// config is stored as the next version.
func (src *configSources) reconcile(cs *ConfigService, dir string, log *slog.Logger) error {
	if src.opts.file != "" || src.opts.envPrefix != "" {
		log.Info("config sources read", "file", src.opts.file, "file_settings", len(src.file),
			"env_prefix", src.opts.envPrefix, "env_settings", len(src.env), "watch", src.opts.watch)
	}
	snap := cs.st.Load()
	if snap.Version() == 0 {
		return nil
	}
	if err := src.schema(); err != nil {
		return err
	}
	recovered := snap.Value()
	merged := src.start
	for _, p := range cs.st.UpdatablePaths() {
		rv, _ := src.sc.Get(&recovered, p)
		sv, _ := src.sc.Get(&merged, p)
		if rv == sv {
			continue
		}
		if err := src.sc.Set(&merged, p, rv); err != nil {
			return newError(kInternal, err, "config precedence: "+p)
		}
		log.Info(fmt.Sprintf("config: %s = %s from version %d in %s; %s says %s",
			p, formatValue(p, rv), snap.Version(), dir, src.origin(p), formatValue(p, sv)),
			"path", p, "version", snap.Version(), "dir", dir, "overrides", src.origin(p))
	}
	if merged == recovered {
		return nil
	}
	var fixed []string
	for _, p := range src.sc.Paths() {
		rv, _ := src.sc.Get(&recovered, p)
		mv, _ := src.sc.Get(&merged, p)
		if rv != mv {
			fixed = append(fixed, p)
		}
	}
	if err := merged.Validate(); err != nil {
		return err
	}
	if _, err := cs.st.UpdateFunc(func(c *Config) error { *c = merged; return nil }); err != nil {
		return cs.mapError("open", "", nil, err)
	}
	cs.applySettings(cs.Get().cfg())
	log.Info("config: fixed settings taken from the start sources, not the data dir", "paths", fixed, "dir", dir,
		"version", cs.Get().Version())
	return nil
}

// changedPaths lists the leaf paths whose values differ between a and b.
func (src *configSources) changedPaths(a, b *Config) []string {
	var out []string
	for _, p := range src.sc.Paths() {
		av, _ := src.sc.Get(a, p)
		bv, _ := src.sc.Get(b, p)
		if av != bv {
			out = append(out, p)
		}
	}
	return out
}
