package suite

import (
	"encoding/json"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/bench/genserver"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/v2"
	"github.com/puzpuzpuz/xsync/v3"
	"github.com/spf13/viper"
)

const cfgPath = "ai.planning.sampling_rate"

// cfgValues are the values updates alternate between, boxed once so the
// harness allocates nothing.
var cfgValues = [2]any{0.5, 0.25}

func newFoundation(b *testing.B, opts ...foundation.Option) *foundation.Foundation {
	f, err := foundation.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	return f
}

func newGenServer(b *testing.B, cfg foundation.Config) *genserver.System {
	s := genserver.StartWithConfig(cfg)
	b.Cleanup(s.Stop)
	return s
}

// flatConfig is the default config as a flat path → value map (the form the
// map-based peers hold).
func flatConfig() map[string]any {
	var nested map[string]any
	raw, _ := json.Marshal(foundation.DefaultConfig())
	_ = json.Unmarshal(raw, &nested)
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok {
				walk(p, sub)
				continue
			}
			out[p] = v
		}
	}
	walk("", nested)
	return out
}

func nestedConfig() map[string]any {
	var nested map[string]any
	raw, _ := json.Marshal(foundation.DefaultConfig())
	_ = json.Unmarshal(raw, &nested)
	return nested
}

// mutexConfig is the mutex design: the typed config under an RWMutex,
// updates doing foundation's work (convert, validate, commit, event, count)
// under the write lock.
type mutexConfig struct {
	mu      sync.RWMutex
	cfg     foundation.Config
	version uint64
	events  *mutexEvents
	updates atomic.Uint64
}

func (m *mutexConfig) get() float64 {
	m.mu.RLock()
	v := m.cfg.AI.Planning.SamplingRate
	m.mu.RUnlock()
	return v
}

func (m *mutexConfig) update(path string, value any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.cfg
	old, nv, err := genserver.SetPath(&next, path, value)
	if err != nil {
		return err
	}
	if err := next.Validate(); err != nil {
		return err
	}
	m.cfg = next
	m.version++
	data, err := json.Marshal(struct {
		Path    string `json:"path"`
		Old     any    `json:"old"`
		New     any    `json:"new"`
		Version uint64 `json:"version"`
	}{path, old, nv, m.version})
	if err == nil {
		_, _ = m.events.store(foundation.Event{Type: "config_updated", Data: data})
	}
	m.updates.Add(1)
	return nil
}

func newMutexConfig() *mutexConfig {
	return &mutexConfig{cfg: foundation.DefaultConfig(), events: newMutexEvents(eventCapacity)}
}

// lockedViper: viper is not safe for concurrent use, so every access takes
// a mutex (an RWMutex: reads share it).
type lockedViper struct {
	mu sync.RWMutex
	v  *viper.Viper
}

func newViper(b *testing.B) *lockedViper {
	v := viper.New()
	if err := v.MergeConfigMap(nestedConfig()); err != nil {
		b.Fatal(err)
	}
	return &lockedViper{v: v}
}

func newKoanf(b *testing.B) *koanf.Koanf {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(flatConfig(), "."), nil); err != nil {
		b.Fatal(err)
	}
	return k
}

func f64(v float64) uint64 { return math.Float64bits(v) }

func init() {
	register(
		Case{Op: "Config.get", Impl: "foundation", Note: "a ConfigField handle bound once: one atomic load + one load at a fixed offset", Run: func(b *testing.B, par bool) {
			rate, err := foundation.Field[float64](newFoundation(b).Config(), "ai.planning.sampling_rate")
			if err != nil {
				b.Fatal(err)
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return f64(rate.Get()) }
			})
		}},
		Case{Op: "Config.get", Impl: "foundation/snapshot", Note: "Get().Config(): the whole Config copied out of the snapshot, then the field", Run: func(b *testing.B, par bool) {
			cs := newFoundation(b).Config()
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return f64(cs.Get().Config().AI.Planning.SamplingRate) }
			})
		}},
		Case{Op: "Config.get", Impl: "atomic", Note: "the floor: one atomic.Pointer load of the typed config, nothing else", Run: func(b *testing.B, par bool) {
			var p atomic.Pointer[foundation.Config]
			cfg := foundation.DefaultConfig()
			p.Store(&cfg)
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return f64(p.Load().AI.Planning.SamplingRate) }
			})
		}},
		Case{Op: "Config.get", Impl: "genserver", Note: "a call returning the whole config", Run: func(b *testing.B, par bool) {
			s := newGenServer(b, foundation.DefaultConfig())
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return f64(s.ConfigGet().AI.Planning.SamplingRate) }
			})
		}},
		Case{Op: "Config.get", Impl: "mutex", Note: "RWMutex around the typed config", Run: func(b *testing.B, par bool) {
			m := newMutexConfig()
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return f64(m.get()) }
			})
		}},
		Case{Op: "Config.get", Impl: "syncmap", Note: "sync.Map path → any, type assertion", Run: func(b *testing.B, par bool) {
			var m sync.Map
			for k, v := range flatConfig() {
				m.Store(k, v)
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { v, _ := m.Load(cfgPath); return f64(v.(float64)) }
			})
		}},
		Case{Op: "Config.get", Impl: "xsync", Note: "xsync MapOf path → any, type assertion", Run: func(b *testing.B, par bool) {
			m := xsync.NewMapOf[string, any]()
			for k, v := range flatConfig() {
				m.Store(k, v)
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { v, _ := m.Load(cfgPath); return f64(v.(float64)) }
			})
		}},
		Case{Op: "Config.get", Impl: "viper", Note: "GetFloat64 under an RWMutex read lock (viper is not concurrency-safe)", Run: func(b *testing.B, par bool) {
			v := newViper(b)
			if got := v.v.GetFloat64(cfgPath); got != 1 {
				b.Fatalf("viper %s = %v", cfgPath, got)
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 {
					v.mu.RLock()
					x := v.v.GetFloat64(cfgPath)
					v.mu.RUnlock()
					return f64(x)
				}
			})
		}},
		Case{Op: "Config.get", Impl: "koanf", Note: "Float64", Run: func(b *testing.B, par bool) {
			k := newKoanf(b)
			if got := k.Float64(cfgPath); got != 1 {
				b.Fatalf("koanf %s = %v", cfgPath, got)
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return f64(k.Float64(cfgPath)) }
			})
		}},

		Case{Op: "Config.update", Impl: "foundation", Run: func(b *testing.B, par bool) {
			cs := newFoundation(b, foundation.WithEventCapacity(eventCapacity)).Config()
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return errBit(cs.Update(cfgPath, cfgValues[i&1])) }
			})
		}},
		Case{Op: "Config.update", Impl: "genserver", Note: "a call; the event store call and telemetry cast from inside the config server", Run: func(b *testing.B, par bool) {
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = eventCapacity
			s := newGenServer(b, cfg)
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return errBit(s.ConfigUpdate(cfgPath, cfgValues[i&1])) }
			})
		}},
		Case{Op: "Config.update", Impl: "mutex", Note: "same steps under one Mutex; event into the mutex event store", Run: func(b *testing.B, par bool) {
			m := newMutexConfig()
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return errBit(m.update(cfgPath, cfgValues[i&1])) }
			})
		}},
		Case{Op: "Config.update", Impl: "viper", Note: "Set under a Mutex only: no validation, no event, no count", Run: func(b *testing.B, par bool) {
			v := newViper(b)
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 {
					v.mu.Lock()
					v.v.Set(cfgPath, cfgValues[i&1])
					v.mu.Unlock()
					return 1
				}
			})
		}},
		Case{Op: "Config.update", Impl: "koanf", Note: "Set under a Mutex only: no validation, no event, no count", Run: func(b *testing.B, par bool) {
			k := newKoanf(b)
			var mu sync.Mutex
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 {
					mu.Lock()
					err := k.Set(cfgPath, cfgValues[i&1])
					mu.Unlock()
					return errBit(err)
				}
			})
		}},
	)
}

func errBit(err error) uint64 {
	if err != nil {
		panic(err) // a benchmark whose operation fails measures nothing
	}
	return 1
}
