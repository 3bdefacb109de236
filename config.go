package foundation

import (
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Config is the default configuration schema of foundation: the ElixirScope
// Foundation layer's schema, with the defaults and the validation rules of
// its original implementation (see [DefaultConfig] and [Config.Validate]).
// docs/config.md lists every key: its type, default, rule, whether it is
// updatable at runtime, and which part of foundation (or of the embedding
// application) reads it.
//
// Paths are dotted snake_case, taken from the cfg tags: the field
// Config.AI.Planning.SamplingRate is "ai.planning.sampling_rate".
// A Config is a plain value with no maps or slices: copying it copies all of
// it, so a Config read from a snapshot can't change what others read.
type Config struct {
	AI        AIConfig        `cfg:"ai" json:"ai"`
	Capture   CaptureConfig   `cfg:"capture" json:"capture"`
	Storage   StorageConfig   `cfg:"storage" json:"storage"`
	Interface InterfaceConfig `cfg:"interface" json:"interface"`
	Dev       DevConfig       `cfg:"dev" json:"dev"`
}

// AIConfig holds settings for the embedding application's AI features;
// foundation only stores and validates them.
type AIConfig struct {
	Provider Provider       `cfg:"provider" json:"provider"`
	APIKey   Secret         `cfg:"api_key,secret" json:"api_key"`
	Model    string         `cfg:"model" json:"model"`
	Analysis AnalysisConfig `cfg:"analysis" json:"analysis"`
	Planning PlanningConfig `cfg:"planning" json:"planning"`
}

// AnalysisConfig is ai.analysis.
type AnalysisConfig struct {
	MaxFileSize int           `cfg:"max_file_size" json:"max_file_size"`
	Timeout     time.Duration `cfg:"timeout" json:"timeout"`
	CacheTTL    time.Duration `cfg:"cache_ttl" json:"cache_ttl"`
}

// PlanningConfig is ai.planning.
type PlanningConfig struct {
	PerformanceTarget float64  `cfg:"performance_target" json:"performance_target"`
	SamplingRate      float64  `cfg:"sampling_rate" json:"sampling_rate"`
	DefaultStrategy   Strategy `cfg:"default_strategy" json:"default_strategy"`
}

// CaptureConfig is capture.
type CaptureConfig struct {
	RingBuffer RingBufferConfig `cfg:"ring_buffer" json:"ring_buffer"`
	Processing ProcessingConfig `cfg:"processing" json:"processing"`
	VMTracing  VMTracingConfig  `cfg:"vm_tracing" json:"vm_tracing"`
}

// RingBufferConfig is capture.ring_buffer. OverflowStrategy and NumBuffers
// drive the event store's ring. Size and MaxEvents size the capture layer's
// own ring buffer, in the embedding application: foundation validates and
// stores them only (the event store's capacity is storage.hot.max_events).
type RingBufferConfig struct {
	Size             int              `cfg:"size" json:"size"`
	MaxEvents        int              `cfg:"max_events" json:"max_events"`
	OverflowStrategy OverflowStrategy `cfg:"overflow_strategy" json:"overflow_strategy"`
	NumBuffers       int              `cfg:"num_buffers" json:"num_buffers"`
}

// ProcessingConfig is capture.processing: the batching of event export.
type ProcessingConfig struct {
	BatchSize     int           `cfg:"batch_size" json:"batch_size"`
	FlushInterval time.Duration `cfg:"flush_interval" json:"flush_interval"`
	MaxQueueSize  int           `cfg:"max_queue_size" json:"max_queue_size"`
}

// VMTracingConfig is capture.vm_tracing: settings of the embedding
// application's tracing; foundation validates and stores them only.
type VMTracingConfig struct {
	EnableSpawnTrace   bool `cfg:"enable_spawn_trace" json:"enable_spawn_trace"`
	EnableExitTrace    bool `cfg:"enable_exit_trace" json:"enable_exit_trace"`
	EnableMessageTrace bool `cfg:"enable_message_trace" json:"enable_message_trace"`
	TraceChildren      bool `cfg:"trace_children" json:"trace_children"`
}

// StorageConfig is storage.
type StorageConfig struct {
	Hot  HotStorageConfig  `cfg:"hot" json:"hot"`
	Warm WarmStorageConfig `cfg:"warm" json:"warm"`
	Cold ColdStorageConfig `cfg:"cold" json:"cold"`
}

// HotStorageConfig is storage.hot: the in-memory event store's bounds.
// MaxEvents bounds the events held, MaxSizeMB their bytes (Type +
// CorrelationID + Data + a fixed overhead each, as [EventStats.Bytes]
// counts them); both are enforced under every overflow strategy and read
// once, when the store is built.
type HotStorageConfig struct {
	MaxEvents     int           `cfg:"max_events" json:"max_events"`
	MaxSizeMB     int           `cfg:"max_size_mb" json:"max_size_mb"`
	MaxAgeSeconds int           `cfg:"max_age_seconds" json:"max_age_seconds"`
	PruneInterval time.Duration `cfg:"prune_interval" json:"prune_interval"`
}

// WarmStorageConfig is storage.warm.
type WarmStorageConfig struct {
	Enable      bool        `cfg:"enable" json:"enable"`
	Path        string      `cfg:"path" json:"path"`
	MaxSizeMB   int         `cfg:"max_size_mb" json:"max_size_mb"`
	Compression Compression `cfg:"compression" json:"compression"`
}

// ColdStorageConfig is storage.cold.
type ColdStorageConfig struct {
	Enable bool `cfg:"enable" json:"enable"`
}

// InterfaceConfig is interface: query limits. QueryTimeout and MaxResults
// bound [EventStore.Query]; EnableStreaming false makes
// [EventStore.Subscribe] refuse (see [EventSubscription.Err]).
type InterfaceConfig struct {
	QueryTimeout    time.Duration `cfg:"query_timeout" json:"query_timeout"`
	MaxResults      int           `cfg:"max_results" json:"max_results"`
	EnableStreaming bool          `cfg:"enable_streaming" json:"enable_streaming"`
}

// DevConfig is dev.
type DevConfig struct {
	DebugMode             bool `cfg:"debug_mode" json:"debug_mode"`
	VerboseLogging        bool `cfg:"verbose_logging" json:"verbose_logging"`
	PerformanceMonitoring bool `cfg:"performance_monitoring" json:"performance_monitoring"`
}

// Provider is ai.provider: mock, openai, anthropic or gemini.
type Provider string

// The providers.
const (
	ProviderMock      Provider = "mock"
	ProviderOpenAI    Provider = "openai"
	ProviderAnthropic Provider = "anthropic"
	ProviderGemini    Provider = "gemini"
)

// EnumValues lists the allowed values (the config store's enum contract).
func (Provider) EnumValues() []string { return []string{"mock", "openai", "anthropic", "gemini"} }

func (v Provider) valid() bool {
	switch v {
	case "mock", "openai", "anthropic", "gemini":
		return true
	}
	return false
}

// Strategy is ai.planning.default_strategy: fast, balanced or thorough.
type Strategy string

// The strategies.
const (
	StrategyFast     Strategy = "fast"
	StrategyBalanced Strategy = "balanced"
	StrategyThorough Strategy = "thorough"
)

// EnumValues lists the allowed values.
func (Strategy) EnumValues() []string { return []string{"fast", "balanced", "thorough"} }

func (v Strategy) valid() bool {
	switch v {
	case "fast", "balanced", "thorough":
		return true
	}
	return false
}

// OverflowStrategy is capture.ring_buffer.overflow_strategy: what the event
// store does when it is full.
type OverflowStrategy string

// The overflow strategies.
const (
	DropOldest OverflowStrategy = "drop_oldest" // evict the oldest event
	DropNewest OverflowStrategy = "drop_newest" // refuse the new event (ErrFull)
	Block      OverflowStrategy = "block"       // wait for room, up to interface.query_timeout
)

// EnumValues lists the allowed values.
func (OverflowStrategy) EnumValues() []string { return []string{"drop_oldest", "drop_newest", "block"} }

func (v OverflowStrategy) valid() bool {
	switch v {
	case "drop_oldest", "drop_newest", "block":
		return true
	}
	return false
}

// Compression is storage.warm.compression: none, gzip or zstd.
type Compression string

// EnumValues lists the allowed values.
func (Compression) EnumValues() []string { return []string{"none", "gzip", "zstd"} }

func (v Compression) valid() bool {
	switch v {
	case "none", "gzip", "zstd":
		return true
	}
	return false
}

// Secret is a string that never shows itself: String, every fmt verb
// (%v %+v %#v %s %q %x %X …), JSON, XML, encoding.TextMarshaler and slog
// all give "[REDACTED]" ("" for an empty secret). Read the real value with
// [Secret.Reveal].
//
// A Secret is never written to the data dir ([WithDataDir]): the config log
// and its snapshots hold it empty, and at every start the value given to
// [New] (by [WithConfig], or empty) is the one in force. That is why
// ai.api_key is not updatable at runtime.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[REDACTED]" (or "" for an empty secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns the redacted form, quoted, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format redacts the secret under every verb: %q quotes the redacted form,
// %#v is GoString, %x and %X hex-encode the redacted form, every other verb
// prints it.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q':
		fmt.Fprint(f, strconv.Quote(s.String()))
	case verb == 'v' && f.Flag('#'):
		fmt.Fprint(f, s.GoString())
	case verb == 'x':
		fmt.Fprint(f, hex.EncodeToString([]byte(s.String())))
	case verb == 'X':
		fmt.Fprint(f, strings.ToUpper(hex.EncodeToString([]byte(s.String()))))
	default:
		fmt.Fprint(f, s.String())
	}
}

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText returns the redacted form; encoding/xml and other text
// encoders use it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements [slog.LogValuer]: the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

var (
	_ slog.LogValuer         = Secret("")
	_ encoding.TextMarshaler = Secret("")
	_ json.Marshaler         = Secret("")
	_ fmt.Formatter          = Secret("")
	_ fmt.GoStringer         = Secret("")
)

// DefaultConfig returns the default configuration (docs/config.md).
func DefaultConfig() Config {
	return Config{
		AI: AIConfig{
			Provider: ProviderMock,
			Model:    "gpt-4",
			Analysis: AnalysisConfig{MaxFileSize: 1_000_000, Timeout: 30 * time.Second, CacheTTL: time.Hour},
			Planning: PlanningConfig{PerformanceTarget: 0.01, SamplingRate: 1.0, DefaultStrategy: StrategyBalanced},
		},
		Capture: CaptureConfig{
			RingBuffer: RingBufferConfig{Size: 1024, MaxEvents: 1000, OverflowStrategy: DropOldest, NumBuffers: 0},
			Processing: ProcessingConfig{BatchSize: 100, FlushInterval: 50 * time.Millisecond, MaxQueueSize: 1000},
			VMTracing:  VMTracingConfig{EnableSpawnTrace: true, EnableExitTrace: true, EnableMessageTrace: false, TraceChildren: true},
		},
		Storage: StorageConfig{
			Hot:  HotStorageConfig{MaxEvents: 100_000, MaxSizeMB: 1024, MaxAgeSeconds: 3600, PruneInterval: 60 * time.Second},
			Warm: WarmStorageConfig{Enable: false, Path: "./elixir_scope_data", MaxSizeMB: 100, Compression: "zstd"},
			Cold: ColdStorageConfig{Enable: false},
		},
		Interface: InterfaceConfig{QueryTimeout: 10 * time.Second, MaxResults: 1000, EnableStreaming: true},
		Dev:       DevConfig{DebugMode: false, VerboseLogging: false, PerformanceMonitoring: true},
	}
}

// updatablePaths are the paths that [ConfigService.Update] accepts.
var updatablePaths = []string{
	"ai.planning.sampling_rate",
	"ai.planning.performance_target",
	"capture.processing.batch_size",
	"capture.processing.flush_interval",
	"interface.query_timeout",
	"interface.max_results",
	"dev.debug_mode",
	"dev.verbose_logging",
	"dev.performance_monitoring",
}

// pathRules holds, for each updatable path, the rules of valid that read
// that path: no rule reads an updatable path together with another field,
// so a config that passed Validate and then changed at that path alone is
// valid exactly when they hold. A path whose value is nil has no rule.
// TestPathRulesMatchValidate checks the equivalence on random valid
// configs; TestPathRulesCoverUpdatable that every updatable path is here.
var pathRules = map[string]func(c *Config) bool{
	"ai.planning.sampling_rate": func(c *Config) bool {
		sr := c.AI.Planning.SamplingRate
		return sr >= 0 && sr <= 1
	},
	"ai.planning.performance_target": func(c *Config) bool {
		pt := c.AI.Planning.PerformanceTarget
		return pt >= 0 && !math.IsInf(pt, 0)
	},
	"capture.processing.batch_size": func(c *Config) bool {
		n := c.Capture.Processing.BatchSize
		return n > 0 && n <= maxBatchSize
	},
	"capture.processing.flush_interval": func(c *Config) bool {
		d := c.Capture.Processing.FlushInterval
		return d >= minFlushInterval && d <= maxFlushInterval
	},
	"interface.query_timeout": func(c *Config) bool {
		d := c.Interface.QueryTimeout
		return d >= minQueryTimeout && d <= maxQueryTimeout
	},
	"interface.max_results": func(c *Config) bool {
		n := c.Interface.MaxResults
		return n > 0 && n <= maxResultsBound
	},
	"dev.debug_mode":             nil,
	"dev.verbose_logging":        nil,
	"dev.performance_monitoring": nil,
}

// validatePath is the config store's ValidatePath: an Update of path is
// checked by path's rules alone, and, when one fails, by Validate, which
// then reports that rule (the first to fail, the others holding as they
// did). nil, for a path without an entry, means Validate.
func validatePath(path string) func(*Config) error {
	rule, ok := pathRules[path]
	switch {
	case !ok:
		return nil
	case rule == nil:
		return func(*Config) error { return nil }
	}
	return func(c *Config) error {
		if rule(c) {
			return nil
		}
		return c.Validate()
	}
}

// Validate checks the whole config against the rules of docs/config.md, in
// their order (ai, capture, storage, interface, dev), with the ranges of its
// "Bounds" table where those rules only ask for a sign (an
// interface.query_timeout of 1 ns, a capture.processing.batch_size of 2^40
// are [ErrRange]); the first failing rule wins.
// The error is an *Error matching [ErrValidation] and its own kind
// ([ErrRange], [ErrConstraint], [ErrInvalidValue]). A valid config costs
// one pass of comparisons, no allocation.
func (c *Config) Validate() error {
	if c.valid() {
		return nil
	}
	return c.check()
}

// valid is every rule of check as one expression: Validate's fast path (it
// runs on every update); check then finds the first failing rule for the
// error. TestValidFastPathMatchesCheck keeps the two equal.
func (c *Config) valid() bool {
	a, rb, p := &c.AI, &c.Capture.RingBuffer, &c.Capture.Processing
	h, w, i := &c.Storage.Hot, &c.Storage.Warm, &c.Interface
	pt, sr := a.Planning.PerformanceTarget, a.Planning.SamplingRate
	return a.Provider.valid() && a.Analysis.MaxFileSize > 0 && a.Analysis.Timeout > 0 && a.Analysis.CacheTTL > 0 &&
		pt >= 0 && !math.IsInf(pt, 0) && sr >= 0 && sr <= 1 && a.Planning.DefaultStrategy.valid() &&
		rb.Size > 0 && rb.MaxEvents > 0 && rb.OverflowStrategy.valid() && rb.NumBuffers >= 0 && rb.NumBuffers <= maxNumBuffers &&
		p.BatchSize > 0 && p.BatchSize <= maxBatchSize &&
		p.FlushInterval >= minFlushInterval && p.FlushInterval <= maxFlushInterval &&
		p.MaxQueueSize > 0 && p.MaxQueueSize <= maxQueueSize &&
		h.MaxEvents > 0 && h.MaxEvents <= maxHotEvents && h.MaxSizeMB > 0 && h.MaxSizeMB <= maxHotSizeMB &&
		h.MaxAgeSeconds > 0 && h.MaxAgeSeconds <= maxAgeSeconds &&
		h.PruneInterval >= minPruneInterval && h.PruneInterval <= maxPruneInterval &&
		(!w.Enable || w.Path != "" && w.MaxSizeMB > 0 && w.MaxSizeMB <= maxWarmSizeMB && w.Compression.valid()) &&
		i.QueryTimeout >= minQueryTimeout && i.QueryTimeout <= maxQueryTimeout &&
		i.MaxResults > 0 && i.MaxResults <= maxResultsBound
}

// check applies the rules one by one and returns the first failure.
func (c *Config) check() error {
	a := &c.AI
	if err := inSet("ai.provider", a.Provider); err != nil {
		return err
	}
	if err := positiveInt("ai.analysis.max_file_size", a.Analysis.MaxFileSize); err != nil {
		return err
	}
	if err := positiveDur("ai.analysis.timeout", a.Analysis.Timeout); err != nil {
		return err
	}
	if err := positiveDur("ai.analysis.cache_ttl", a.Analysis.CacheTTL); err != nil {
		return err
	}
	if pt := a.Planning.PerformanceTarget; !(pt >= 0) || math.IsInf(pt, 0) {
		return newError(kConstraint, nil,
			fmt.Sprintf("ai.planning.performance_target = %v: must be a finite number >= 0", pt),
			"path", "ai.planning.performance_target", "value", pt, "min", 0.0)
	}
	if sr := a.Planning.SamplingRate; !(sr >= 0 && sr <= 1) {
		return newError(kRange, nil,
			fmt.Sprintf("ai.planning.sampling_rate = %v: must be between 0 and 1", sr),
			"path", "ai.planning.sampling_rate", "value", sr, "min", 0.0, "max", 1.0)
	}
	if err := inSet("ai.planning.default_strategy", a.Planning.DefaultStrategy); err != nil {
		return err
	}

	rb := &c.Capture.RingBuffer
	if err := positiveInt("capture.ring_buffer.size", rb.Size); err != nil {
		return err
	}
	if err := positiveInt("capture.ring_buffer.max_events", rb.MaxEvents); err != nil {
		return err
	}
	if err := inSet("capture.ring_buffer.overflow_strategy", rb.OverflowStrategy); err != nil {
		return err
	}
	if rb.NumBuffers < 0 {
		return newError(kValidation, nil,
			fmt.Sprintf("capture.ring_buffer.num_buffers = %d: must be >= 0", rb.NumBuffers),
			"path", "capture.ring_buffer.num_buffers", "value", rb.NumBuffers, "min", 0)
	}
	if rb.NumBuffers > maxNumBuffers {
		return outOfBounds("capture.ring_buffer.num_buffers", int64(rb.NumBuffers))
	}
	p := &c.Capture.Processing
	if err := boundedInt("capture.processing.batch_size", p.BatchSize, maxBatchSize); err != nil {
		return err
	}
	if err := boundedDur("capture.processing.flush_interval", p.FlushInterval, minFlushInterval, maxFlushInterval); err != nil {
		return err
	}
	if err := boundedInt("capture.processing.max_queue_size", p.MaxQueueSize, maxQueueSize); err != nil {
		return err
	}

	h := &c.Storage.Hot
	if err := boundedInt("storage.hot.max_events", h.MaxEvents, maxHotEvents); err != nil {
		return err
	}
	if err := boundedInt("storage.hot.max_size_mb", h.MaxSizeMB, maxHotSizeMB); err != nil {
		return err
	}
	if err := boundedInt("storage.hot.max_age_seconds", h.MaxAgeSeconds, maxAgeSeconds); err != nil {
		return err
	}
	if err := boundedDur("storage.hot.prune_interval", h.PruneInterval, minPruneInterval, maxPruneInterval); err != nil {
		return err
	}
	if w := &c.Storage.Warm; w.Enable {
		if w.Path == "" {
			return newError(kValidation, nil, `storage.warm.path = "": must not be empty when storage.warm.enable is true`,
				"path", "storage.warm.path", "value", "")
		}
		if err := boundedInt("storage.warm.max_size_mb", w.MaxSizeMB, maxWarmSizeMB); err != nil {
			return err
		}
		if err := inSet("storage.warm.compression", w.Compression); err != nil {
			return err
		}
	}

	if err := boundedDur("interface.query_timeout", c.Interface.QueryTimeout, minQueryTimeout, maxQueryTimeout); err != nil {
		return err
	}
	return boundedInt("interface.max_results", c.Interface.MaxResults, maxResultsBound)
}

func positiveInt(path string, v int) error {
	if v > 0 {
		return nil
	}
	return newError(kValidation, nil, fmt.Sprintf("%s = %d: must be > 0", path, v), "path", path, "value", v, "min", 1)
}

func positiveDur(path string, v time.Duration) error {
	if v > 0 {
		return nil
	}
	return newError(kValidation, nil, fmt.Sprintf("%s = %s: must be > 0", path, v), "path", path, "value", v)
}

type enum interface {
	~string
	EnumValues() []string
	valid() bool // the set as a switch: Validate runs on every update and allocates nothing
}

func inSet[E enum](path string, v E) error {
	if v.valid() {
		return nil
	}
	return newError(kInvalidValue, nil,
		fmt.Sprintf("%s = %q: must be one of %v", path, string(v), v.EnumValues()),
		"path", path, "value", string(v), "allowed", v.EnumValues())
}
