package foundation_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// Every rule of docs/config.md, broken once, in a config given to New.
func TestConfigRulesCatalogue(t *testing.T) {
	type rule struct {
		name   string
		break_ func(c *foundation.Config)
		kind   error
		path   string
	}
	rules := []rule{
		{"provider not in set", func(c *foundation.Config) { c.AI.Provider = "skynet" }, foundation.ErrInvalidValue, "ai.provider"},
		{"max_file_size 0", func(c *foundation.Config) { c.AI.Analysis.MaxFileSize = 0 }, foundation.ErrValidation, "ai.analysis.max_file_size"},
		{"analysis timeout 0", func(c *foundation.Config) { c.AI.Analysis.Timeout = 0 }, foundation.ErrValidation, "ai.analysis.timeout"},
		{"cache_ttl negative", func(c *foundation.Config) { c.AI.Analysis.CacheTTL = -time.Second }, foundation.ErrValidation, "ai.analysis.cache_ttl"},
		{"performance_target negative", func(c *foundation.Config) { c.AI.Planning.PerformanceTarget = -0.1 }, foundation.ErrConstraint, "ai.planning.performance_target"},
		{"performance_target +Inf", func(c *foundation.Config) { c.AI.Planning.PerformanceTarget = math.Inf(1) }, foundation.ErrConstraint, "ai.planning.performance_target"},
		{"sampling_rate 1.5", func(c *foundation.Config) { c.AI.Planning.SamplingRate = 1.5 }, foundation.ErrRange, "ai.planning.sampling_rate"},
		{"sampling_rate -0.1", func(c *foundation.Config) { c.AI.Planning.SamplingRate = -0.1 }, foundation.ErrRange, "ai.planning.sampling_rate"},
		{"sampling_rate NaN", func(c *foundation.Config) { c.AI.Planning.SamplingRate = math.NaN() }, foundation.ErrRange, "ai.planning.sampling_rate"},
		{"default_strategy not in set", func(c *foundation.Config) { c.AI.Planning.DefaultStrategy = "lazy" }, foundation.ErrInvalidValue, "ai.planning.default_strategy"},
		{"ring size 0", func(c *foundation.Config) { c.Capture.RingBuffer.Size = 0 }, foundation.ErrValidation, "capture.ring_buffer.size"},
		{"ring max_events 0", func(c *foundation.Config) { c.Capture.RingBuffer.MaxEvents = 0 }, foundation.ErrValidation, "capture.ring_buffer.max_events"},
		{"overflow strategy", func(c *foundation.Config) { c.Capture.RingBuffer.OverflowStrategy = "drop_all" }, foundation.ErrInvalidValue, "capture.ring_buffer.overflow_strategy"},
		{"num_buffers negative", func(c *foundation.Config) { c.Capture.RingBuffer.NumBuffers = -1 }, foundation.ErrValidation, "capture.ring_buffer.num_buffers"},
		{"batch_size 0", func(c *foundation.Config) { c.Capture.Processing.BatchSize = 0 }, foundation.ErrValidation, "capture.processing.batch_size"},
		{"flush_interval 0", func(c *foundation.Config) { c.Capture.Processing.FlushInterval = 0 }, foundation.ErrValidation, "capture.processing.flush_interval"},
		{"max_queue_size 0", func(c *foundation.Config) { c.Capture.Processing.MaxQueueSize = 0 }, foundation.ErrValidation, "capture.processing.max_queue_size"},
		{"hot max_events 0", func(c *foundation.Config) { c.Storage.Hot.MaxEvents = 0 }, foundation.ErrValidation, "storage.hot.max_events"},
		{"hot max_age_seconds 0", func(c *foundation.Config) { c.Storage.Hot.MaxAgeSeconds = 0 }, foundation.ErrValidation, "storage.hot.max_age_seconds"},
		{"hot prune_interval 0", func(c *foundation.Config) { c.Storage.Hot.PruneInterval = 0 }, foundation.ErrValidation, "storage.hot.prune_interval"},
		{"warm path empty", func(c *foundation.Config) { c.Storage.Warm.Enable = true; c.Storage.Warm.Path = "" }, foundation.ErrValidation, "storage.warm.path"},
		{"warm max_size_mb 0", func(c *foundation.Config) { c.Storage.Warm.Enable = true; c.Storage.Warm.MaxSizeMB = 0 }, foundation.ErrValidation, "storage.warm.max_size_mb"},
		{"warm compression", func(c *foundation.Config) { c.Storage.Warm.Enable = true; c.Storage.Warm.Compression = "lz4" }, foundation.ErrInvalidValue, "storage.warm.compression"},
		{"query_timeout 0", func(c *foundation.Config) { c.Interface.QueryTimeout = 0 }, foundation.ErrValidation, "interface.query_timeout"},
		{"max_results 0", func(c *foundation.Config) { c.Interface.MaxResults = 0 }, foundation.ErrValidation, "interface.max_results"},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			cfg := foundation.DefaultConfig()
			r.break_(&cfg)
			f, err := foundation.New(foundation.WithConfig(cfg))
			require.Error(t, err)
			assert.Nil(t, f)
			assert.ErrorIs(t, err, r.kind)
			assert.ErrorIs(t, err, foundation.ErrValidation)
			var fe *foundation.Error
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, r.path, fe.Context["path"])
			assert.Contains(t, fe.Message, r.path)
		})
	}
	// Warm settings are not checked while warm storage is off.
	cfg := foundation.DefaultConfig()
	cfg.Storage.Warm.Path, cfg.Storage.Warm.Compression = "", "lz4"
	require.NoError(t, cfg.Validate())
}

// The first failing rule wins: ai before capture, performance_target before
// sampling_rate.
func TestConfigFirstRuleWins(t *testing.T) {
	cfg := foundation.DefaultConfig()
	cfg.AI.Planning.SamplingRate = 2
	cfg.AI.Planning.PerformanceTarget = -1
	cfg.Interface.MaxResults = 0
	err := cfg.Validate()
	assert.ErrorIs(t, err, foundation.ErrConstraint)
	assert.NotErrorIs(t, err, foundation.ErrRange)
}

// Bad updates: each gets a clear error and leaves the snapshot as it was.
func TestConfigUpdateCatalogue(t *testing.T) {
	type int8x int8
	cases := []struct {
		name  string
		path  string
		value any
		kind  error
	}{
		{"unknown path", "ai.nope", 1, foundation.ErrUpdateForbidden},
		{"empty path", "", 1, foundation.ErrUpdateForbidden},
		{"parent path", "dev", true, foundation.ErrUpdateForbidden},
		{"fixed path", "ai.provider", "openai", foundation.ErrUpdateForbidden},
		{"secret path", "ai.api_key", "sk-123", foundation.ErrUpdateForbidden},
		{"trailing dot", "dev.debug_mode.", true, foundation.ErrUpdateForbidden},
		{"float gets string", "ai.planning.sampling_rate", "0.5", foundation.ErrTypeMismatch},
		{"float gets bool", "ai.planning.sampling_rate", true, foundation.ErrTypeMismatch},
		{"float gets nil", "ai.planning.sampling_rate", nil, foundation.ErrTypeMismatch},
		{"float NaN", "ai.planning.sampling_rate", math.NaN(), foundation.ErrInvalidValue},
		{"float +Inf", "ai.planning.performance_target", math.Inf(1), foundation.ErrInvalidValue},
		{"float -Inf", "ai.planning.performance_target", math.Inf(-1), foundation.ErrInvalidValue},
		{"float out of range", "ai.planning.sampling_rate", 1.5, foundation.ErrRange},
		{"float negative int", "ai.planning.sampling_rate", -1, foundation.ErrRange},
		{"constraint", "ai.planning.performance_target", -0.5, foundation.ErrConstraint},
		{"int gets float", "interface.max_results", 1.5, foundation.ErrTypeMismatch},
		{"int gets string", "interface.max_results", "10", foundation.ErrTypeMismatch},
		{"int zero", "interface.max_results", 0, foundation.ErrValidation},
		{"int huge uint64", "interface.max_results", uint64(math.MaxUint64), foundation.ErrRange},
		{"int negative", "capture.processing.batch_size", int8x(-3), foundation.ErrValidation},
		{"bool gets int", "dev.debug_mode", 1, foundation.ErrTypeMismatch},
		{"bool gets string", "dev.debug_mode", "true", foundation.ErrTypeMismatch},
		{"duration gets int", "interface.query_timeout", 5, foundation.ErrTypeMismatch},
		{"duration bad string", "interface.query_timeout", "soon", foundation.ErrTypeMismatch},
		{"duration zero", "interface.query_timeout", time.Duration(0), foundation.ErrValidation},
		{"duration negative string", "capture.processing.flush_interval", "-1s", foundation.ErrValidation},
	}
	f := newF(t)
	before := f.Config().Get()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := f.Config().Update(c.path, c.value)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.kind, "got %v", err)
			var fe *foundation.Error
			require.True(t, errors.As(err, &fe))
			assert.NotEmpty(t, fe.Message)
			assert.Same(t, before, f.Config().Get(), "snapshot unchanged")
		})
	}
	assert.Equal(t, uint64(0), f.Config().Get().Version())
}

// Good updates: every conversion rule of docs/config.md.
func TestConfigUpdateConversions(t *testing.T) {
	f := newF(t)
	cs := f.Config()
	ok := []struct {
		path  string
		value any
		check func(c foundation.Config) bool
	}{
		{"ai.planning.sampling_rate", float32(0.5), func(c foundation.Config) bool { return c.AI.Planning.SamplingRate == 0.5 }},
		{"ai.planning.sampling_rate", 0, func(c foundation.Config) bool { return c.AI.Planning.SamplingRate == 0 }},
		{"ai.planning.sampling_rate", uint8(1), func(c foundation.Config) bool { return c.AI.Planning.SamplingRate == 1 }},
		{"ai.planning.performance_target", 5, func(c foundation.Config) bool { return c.AI.Planning.PerformanceTarget == 5 }},
		{"interface.max_results", int64(42), func(c foundation.Config) bool { return c.Interface.MaxResults == 42 }},
		{"interface.max_results", uint16(43), func(c foundation.Config) bool { return c.Interface.MaxResults == 43 }},
		{"capture.processing.batch_size", int32(7), func(c foundation.Config) bool { return c.Capture.Processing.BatchSize == 7 }},
		{"capture.processing.flush_interval", "250ms", func(c foundation.Config) bool { return c.Capture.Processing.FlushInterval == 250*time.Millisecond }},
		{"interface.query_timeout", 2 * time.Second, func(c foundation.Config) bool { return c.Interface.QueryTimeout == 2*time.Second }},
		{"dev.debug_mode", true, func(c foundation.Config) bool { return c.Dev.DebugMode }},
		{"dev.verbose_logging", true, func(c foundation.Config) bool { return c.Dev.VerboseLogging }},
		{"dev.performance_monitoring", false, func(c foundation.Config) bool { return !c.Dev.PerformanceMonitoring }},
	}
	for i, c := range ok {
		require.NoError(t, cs.Update(c.path, c.value), c.path)
		s := cs.Get()
		assert.Equal(t, uint64(i+1), s.Version())
		assert.True(t, c.check(s.Config()), "%s = %v", c.path, c.value)
	}
	assert.ElementsMatch(t, []string{
		"ai.planning.sampling_rate", "ai.planning.performance_target",
		"capture.processing.batch_size", "capture.processing.flush_interval",
		"interface.query_timeout", "interface.max_results",
		"dev.debug_mode", "dev.verbose_logging", "dev.performance_monitoring",
	}, cs.UpdatablePaths())
}

func TestConfigLookup(t *testing.T) {
	f := newF(t)
	cs := f.Config()
	v, err := cs.Lookup("ai.planning.sampling_rate")
	require.NoError(t, err)
	assert.Equal(t, 1.0, v)
	v, err = cs.Lookup("interface.query_timeout")
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, v)
	v, err = cs.Lookup("dev")
	require.NoError(t, err)
	assert.Equal(t, foundation.DefaultConfig().Dev, v)
	for _, p := range []string{"", "nope", "ai.nope", "ai..model", ".ai", "ai.model.x"} {
		_, err = cs.Lookup(p)
		assert.ErrorIs(t, err, foundation.ErrPathNotFound, p)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := foundation.DefaultConfig()
	cfg.AI.APIKey = "sk-very-secret"
	f := newF(t, foundation.WithConfig(cfg))
	got := f.Config().Get().Config()
	assert.Equal(t, "sk-very-secret", got.AI.APIKey.Reveal())
	for _, s := range []string{
		fmt.Sprint(got), fmt.Sprintf("%v", got), fmt.Sprintf("%+v", got), fmt.Sprintf("%#v", got),
		fmt.Sprintf("%s", got.AI.APIKey), fmt.Sprintf("%q", got.AI.APIKey),
	} {
		assert.NotContains(t, s, "sk-very-secret")
	}
	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "sk-very-secret")
	v, err := f.Config().Lookup("ai.api_key")
	require.NoError(t, err)
	assert.NotContains(t, fmt.Sprint(v), "sk-very-secret")
	err = f.Config().Update("ai.api_key", "sk-other-secret")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "sk-other-secret")
	b, _ = json.Marshal(err)
	assert.NotContains(t, string(b), "sk-other-secret")
	assert.False(t, strings.Contains(fmt.Sprintf("%+v", err), "sk-other-secret"))
}

func TestErrorFields(t *testing.T) {
	f := newF(t)
	err := f.Config().Update("ai.planning.sampling_rate", 1.5)
	var fe *foundation.Error
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, "range_error", fe.Type)
	assert.Equal(t, "config", fe.Category)
	assert.Equal(t, "validation", fe.Subcategory)
	assert.Equal(t, foundation.RetryNever, fe.Retry)
	assert.Equal(t, 1.5, fe.Context["value"])
	assert.Contains(t, fe.Error(), "1.5")
	assert.NotErrorIs(t, err, foundation.ErrNotFound)

	err = f.Config().CompareAndUpdate(99, "dev.debug_mode", true)
	require.True(t, errors.As(err, &fe))
	assert.Equal(t, foundation.RetryImmediately, fe.Retry)
	assert.ErrorIs(t, err, foundation.ErrVersionConflict)
	assert.NotErrorIs(t, err, foundation.ErrValidation)

	// Codes are unique.
	seen := map[int]string{}
	for _, s := range []foundation.Kind{foundation.ErrPathNotFound, foundation.ErrUpdateForbidden,
		foundation.ErrValidation, foundation.ErrRange, foundation.ErrConstraint, foundation.ErrInvalidValue,
		foundation.ErrTypeMismatch, foundation.ErrVersionConflict, foundation.ErrNotFound,
		foundation.ErrDataTooLarge, foundation.ErrInvalidEvent, foundation.ErrInvalidQuery,
		foundation.ErrHandlerExists, foundation.ErrClosed, foundation.ErrFull, foundation.ErrTimeout,
		foundation.ErrConfigStorage, foundation.ErrConfigSource, foundation.ErrInvalidArgument, foundation.ErrInvalidHandler,
		foundation.ErrTaskExists, foundation.ErrInternal} {
		if prev, dup := seen[s.Code()]; dup {
			t.Errorf("code %d used by %s and %s", s.Code(), prev, s.Type())
		}
		seen[s.Code()] = s.Type()
	}
}

func TestConfigField(t *testing.T) {
	f := newF(t)
	rate, err := foundation.Field[float64](f.Config(), "ai.planning.sampling_rate")
	require.NoError(t, err)
	assert.Equal(t, 1.0, rate.Get())
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.3))
	assert.Equal(t, 0.3, rate.Get())
	_, err = foundation.Field[int](f.Config(), "ai.planning.sampling_rate")
	assert.ErrorIs(t, err, foundation.ErrTypeMismatch)
	_, err = foundation.Field[int](f.Config(), "ai.nope")
	assert.ErrorIs(t, err, foundation.ErrPathNotFound)
	if !raceEnabled {
		assert.Zero(t, testing.AllocsPerRun(100, func() { sink.f = rate.Get() }))
	}
}

func TestConfigCheckIsADryRun(t *testing.T) {
	f := newF(t)
	cs := f.Config()
	sub := cs.Subscribe()
	defer sub.Close()
	v, err := cs.Check("interface.query_timeout", "3s")
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, v)
	v, err = cs.Check("interface.max_results", int8(12))
	require.NoError(t, err)
	assert.Equal(t, 12, v)
	for _, c := range []struct {
		path  string
		value any
		kind  error
	}{
		{"ai.planning.sampling_rate", 1.5, foundation.ErrRange},
		{"ai.provider", "openai", foundation.ErrUpdateForbidden},
		{"dev.debug_mode", "yes", foundation.ErrTypeMismatch},
		{"interface.max_results", 0, foundation.ErrValidation},
	} {
		_, err := cs.Check(c.path, c.value)
		assert.ErrorIs(t, err, c.kind, c.path)
	}
	assert.Equal(t, uint64(0), cs.Get().Version(), "nothing applied")
	assert.Equal(t, 0, len(sub.C()), "nothing announced")
	evs, _ := f.Events().Query(foundation.Query{Type: "config_updated"})
	assert.Empty(t, evs, "nothing recorded")
}
