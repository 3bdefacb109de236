package foundation_test

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeConfig writes a config file named name in a new temp dir.
func writeConfig(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, writeFile(p, body))
	return p
}

// The same settings in every format and shape must give the same config.
func TestConfigFileFormats(t *testing.T) {
	want := foundation.DefaultConfig()
	want.AI.Provider = foundation.ProviderOpenAI
	want.AI.Planning.SamplingRate = 0.5
	want.Capture.Processing.BatchSize = 250
	want.Capture.Processing.FlushInterval = 20 * time.Millisecond
	want.Dev.DebugMode = true
	want.Storage.Hot.MaxEvents = 5000

	files := map[string]string{
		"nested.yaml": `
ai:
  provider: openai
  planning:
    sampling_rate: 0.5
capture:
  processing: {batch_size: 250, flush_interval: 20ms}
dev:
  debug_mode: true
storage:
  hot:
    max_events: 5000.0   # an integral float is an integer
`,
		"dotted.yml": `
ai.provider: openai
ai.planning.sampling_rate: 0.5
capture.processing.batch_size: 250
capture.processing.flush_interval: 20ms
dev.debug_mode: true
storage:
  hot.max_events: 5000
`,
		"nested.json": `{
  "ai": {"provider": "openai", "planning": {"sampling_rate": 0.5}},
  "capture": {"processing": {"batch_size": 250, "flush_interval": "20ms"}},
  "dev": {"debug_mode": true},
  "storage": {"hot": {"max_events": 5e3}}
}`,
		"dotted.json": `{"ai.provider": "openai", "ai.planning.sampling_rate": 0.5,
  "capture.processing": {"batch_size": 250, "flush_interval": "20ms"},
  "dev.debug_mode": true, "storage.hot.max_events": 5000}`,
		"nested.toml": `
[ai]
provider = "openai"
[ai.planning]
sampling_rate = 0.5
[capture.processing]
batch_size = 250
flush_interval = "20ms"
[dev]
debug_mode = true
[storage]
hot = { max_events = 5_000 }
`,
		"dotted.toml": `
ai.provider = "openai"
ai.planning.sampling_rate = 0.5
capture.processing.batch_size = 250
capture.processing.flush_interval = "20ms"
dev.debug_mode = true
storage.hot.max_events = 5000.0
`,
	}
	for name, body := range files {
		t.Run(name, func(t *testing.T) {
			f := newF(t, foundation.WithConfigFile(writeConfig(t, name, body)))
			assert.Equal(t, want, f.Config().Get().Config())
			assert.Equal(t, uint64(0), f.Config().Get().Version())
		})
	}
}

func TestConfigFileEmptyOrComments(t *testing.T) {
	for name, body := range map[string]string{
		"a.yaml": "# nothing set\n", "b.yaml": "", "c.json": "{}", "d.toml": "# nothing\n", "e.yaml": "~\n",
	} {
		f := newF(t, foundation.WithConfigFile(writeConfig(t, name, body)))
		assert.Equal(t, foundation.DefaultConfig(), f.Config().Get().Config(), name)
	}
}

// Every error names the file, the key and (where the format has lines) the
// line, and matches the sentinel Update would give.
func TestConfigFileErrors(t *testing.T) {
	cases := []struct {
		name, body string
		is         error
		msg        []string // substrings of the message
	}{
		{"unknown.yaml", "ai:\n  planning:\n    sampling_rat: 0.5\n", foundation.ErrPathNotFound,
			[]string{"unknown.yaml:3", `"sampling_rat"`, "ai.planning.sampling_rat"}},
		{"unknown.json", "{\n \"ai\": {\n  \"modle\": \"x\"}}", foundation.ErrPathNotFound,
			[]string{"unknown.json:3", "ai.modle"}},
		{"unknown.toml", "[ai]\nprovider = \"mock\"\n\n[ai.planing]\nsampling_rate = 1.0\n", foundation.ErrPathNotFound,
			[]string{"unknown.toml:4", "ai.planing"}},
		{"empty-key.json", `{"": 1}`, foundation.ErrPathNotFound, []string{"empty-key.json:1"}},
		{"wrongtype.yaml", "dev:\n  debug_mode: yes please\n", foundation.ErrTypeMismatch,
			[]string{"wrongtype.yaml:2", "dev.debug_mode", "want bool, got string"}},
		{"wrongtype.json", `{"interface": {"max_results": "ten"}}`, foundation.ErrTypeMismatch,
			[]string{"wrongtype.json:1", "interface.max_results"}},
		{"fraction.yaml", "capture:\n  processing:\n    batch_size: 2.5\n", foundation.ErrTypeMismatch,
			[]string{"fraction.yaml:3", "capture.processing.batch_size", "2.5"}},
		{"duration.toml", "[interface]\nquery_timeout = 5\n", foundation.ErrTypeMismatch,
			[]string{"duration.toml:2", "interface.query_timeout"}},
		{"baddur.yaml", "interface:\n  query_timeout: soon\n", foundation.ErrTypeMismatch,
			[]string{"baddur.yaml:2", "interface.query_timeout", "soon"}},
		{"enum.yaml", "ai:\n  provider: skynet\n", foundation.ErrInvalidValue,
			[]string{"enum.yaml:2", "ai.provider", "skynet"}},
		{"range.yaml", "# rate\nai:\n  planning:\n    sampling_rate: 1.5\n", foundation.ErrRange,
			[]string{"range.yaml:4", "ai.planning.sampling_rate = 1.5"}},
		{"range.toml", "ai.planning.sampling_rate = 1.5\n", foundation.ErrValidation,
			[]string{"range.toml:1", "sampling_rate"}},
		{"zero.json", "{\"interface\":\n {\"max_results\": 0}}", foundation.ErrValidation,
			[]string{"zero.json:2", "interface.max_results = 0"}},
		{"section.yaml", "ai: 3\n", foundation.ErrTypeMismatch, []string{"section.yaml:1", "ai is a section"}},
		{"table.yaml", "ai:\n  model: {name: x}\n", foundation.ErrTypeMismatch, []string{"table.yaml:2", "ai.model"}},
		{"list.toml", "[ai]\nmodel = [\"a\"]\n", foundation.ErrTypeMismatch, []string{"list.toml:2", "ai.model", "list"}},
		{"null.json", `{"ai": {"model": null}}`, foundation.ErrTypeMismatch, []string{"null.json:1", "ai.model"}},
		{"twice.yaml", "ai.model: a\nai:\n  model: b\n", foundation.ErrConfigSource,
			[]string{"twice.yaml:3", "ai.model given twice (first at line 1)"}},
		{"twice.json", "{\"dev\": {\"debug_mode\": true},\n \"dev.debug_mode\": false}", foundation.ErrConfigSource,
			[]string{"twice.json:2", "given twice"}},
		{"syntax.json", "{\n\"ai\": {,}\n}", foundation.ErrConfigSource, []string{"syntax.json:2", "invalid JSON"}},
		{"trailing.json", "{}\n{}", foundation.ErrConfigSource, []string{"trailing.json:2", "after the top-level object"}},
		{"truncated.json", `{"ai": {"model": "x"`, foundation.ErrConfigSource, []string{"truncated.json", "unexpected end"}},
		{"array.json", `[1]`, foundation.ErrConfigSource, []string{"array.json:1", "want a JSON object"}},
		{"syntax.yaml", "ai:\n  model: [x\n", foundation.ErrConfigSource, []string{"syntax.yaml", "invalid YAML", "line"}},
		{"two.yaml", "ai.model: a\n---\nai.model: b\n", foundation.ErrConfigSource, []string{"two.yaml", "more than one YAML document"}},
		{"scalar.yaml", "hello\n", foundation.ErrConfigSource, []string{"scalar.yaml:1", "want a YAML mapping"}},
		{"syntax.toml", "[ai\nmodel = 1\n", foundation.ErrConfigSource, []string{"syntax.toml:1", "invalid TOML"}},
		{"dup.toml", "[ai]\nmodel = \"a\"\nmodel = \"b\"\n", foundation.ErrConfigSource, []string{"dup.toml:3", "invalid TOML"}},
		{"date.toml", "[ai]\nmodel = 2024-01-01\n", foundation.ErrTypeMismatch, []string{"date.toml:2", "ai.model"}},
		{"secretref.yaml", "ai:\n  api_key: {vault: x}\n", foundation.ErrTypeMismatch, []string{"secretref.yaml:2", "unknown reference"}},
		{"secretenv.yaml", "ai:\n  api_key: {env: FOUNDATION_TEST_UNSET_VARIABLE}\n", foundation.ErrInvalidValue,
			[]string{"secretenv.yaml:2", "FOUNDATION_TEST_UNSET_VARIABLE is not set"}},
		{"secretfile.yaml", "ai:\n  api_key: {file: missing.txt}\n", foundation.ErrConfigSource,
			[]string{"secretfile.yaml:2", "secret file"}},
		{"bound.yaml", "interface:\n  query_timeout: 1ns\n", foundation.ErrRange,
			[]string{"bound.yaml:2", "interface.query_timeout"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeConfig(t, c.name, c.body)
			_, err := foundation.New(foundation.WithConfigFile(p))
			require.Error(t, err)
			assert.ErrorIs(t, err, c.is)
			for _, s := range c.msg {
				assert.Contains(t, err.Error(), s)
			}
			assert.Contains(t, err.Error(), p, "the message names the file")
		})
	}
}

func TestConfigFileOptionErrors(t *testing.T) {
	_, err := foundation.New(foundation.WithConfigFile(""))
	assert.ErrorIs(t, err, foundation.ErrInvalidArgument)
	_, err = foundation.New(foundation.WithConfigFile("app.ini"))
	assert.ErrorIs(t, err, foundation.ErrInvalidArgument)
	assert.Contains(t, err.Error(), ".ini")
	_, err = foundation.New(foundation.WithConfigFile(filepath.Join(t.TempDir(), "absent.yaml")))
	assert.ErrorIs(t, err, foundation.ErrConfigSource)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = foundation.New(foundation.WithConfigFile(t.TempDir() + "/dir.yaml/"))
	assert.Error(t, err)
	big := writeConfig(t, "big.yaml", "# "+strings.Repeat("x", foundation.MaxConfigFileSize)+"\n")
	_, err = foundation.New(foundation.WithConfigFile(big))
	assert.ErrorIs(t, err, foundation.ErrConfigSource)
	assert.Contains(t, err.Error(), "larger than")
	for _, p := range []string{"", "lower", "A-B", "_"} {
		_, err = foundation.New(foundation.WithEnv(p))
		assert.ErrorIs(t, err, foundation.ErrInvalidArgument, p)
	}
}

// A YAML alias bomb stays bounded by MaxConfigKeys.
func TestConfigFileYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 {x: 1, y: 1}\n")
	for i := 1; i < 20; i++ {
		b.WriteString(strings.Repeat(" ", 0))
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " {x: *a" + itoa(i-1) + ", y: *a" + itoa(i-1) + "}\n")
	}
	_, err := foundation.New(foundation.WithConfigFile(writeConfig(t, "bomb.yaml", b.String())))
	require.Error(t, err)
	assert.True(t, errors.Is(err, foundation.ErrConfigSource) || errors.Is(err, foundation.ErrPathNotFound), err.Error())
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i/10)) + string(rune('0'+i%10)))
}

func TestConfigSecretByReference(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "key.txt"), "sk-from-file\n"))
	t.Setenv("FOUNDATION_TEST_KEY", "sk-from-env")
	for name, body := range map[string]string{
		"env.yaml":  "ai:\n  api_key: {env: FOUNDATION_TEST_KEY}\n",
		"env.json":  `{"ai": {"api_key": {"env": "FOUNDATION_TEST_KEY"}}}`,
		"env.toml":  "[ai]\napi_key = { env = \"FOUNDATION_TEST_KEY\" }\n",
		"file.yaml": "ai.api_key: {file: key.txt}\n",
		"file.toml": "ai.api_key.file = \"key.txt\"\n",
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, writeFile(p, body))
		f := newF(t, foundation.WithConfigFile(p))
		want := "sk-from-env"
		if strings.HasPrefix(name, "file") {
			want = "sk-from-file"
		}
		assert.Equal(t, want, f.Config().Get().Config().AI.APIKey.Reveal(), name)
	}
	// Through the environment: the value, or a file named by _FILE.
	t.Setenv("APP_AI__API_KEY_FILE", filepath.Join(dir, "key.txt"))
	f := newF(t, foundation.WithEnv("APP"))
	assert.Equal(t, "sk-from-file", f.Config().Get().Config().AI.APIKey.Reveal())

	// A secret given inline in a file with a bad value never shows in the error.
	p := filepath.Join(dir, "inline.yaml")
	require.NoError(t, writeFile(p, "ai:\n  api_key: 12345678\n"))
	_, err := foundation.New(foundation.WithConfigFile(p))
	require.ErrorIs(t, err, foundation.ErrTypeMismatch)
	assert.NotContains(t, err.Error(), "12345678")
}

func TestConfigEnv(t *testing.T) {
	t.Setenv("FOUNDATION_AI__PLANNING__SAMPLING_RATE", "0.5")
	t.Setenv("FOUNDATION_CAPTURE__PROCESSING__BATCH_SIZE", "300")
	t.Setenv("FOUNDATION_INTERFACE__QUERY_TIMEOUT", "3s")
	t.Setenv("FOUNDATION_DEV__DEBUG_MODE", "true")
	t.Setenv("FOUNDATION_AI__PROVIDER", "gemini")
	t.Setenv("FOUNDATION_STORAGE__HOT__MAX_EVENTS", "2000.0")
	t.Setenv("FOUNDATIONX_NOT_OURS", "1") // another prefix
	f := newF(t, foundation.WithEnv("FOUNDATION_"))
	cfg := f.Config().Get().Config()
	assert.Equal(t, 0.5, cfg.AI.Planning.SamplingRate)
	assert.Equal(t, 300, cfg.Capture.Processing.BatchSize)
	assert.Equal(t, 3*time.Second, cfg.Interface.QueryTimeout)
	assert.True(t, cfg.Dev.DebugMode)
	assert.Equal(t, foundation.ProviderGemini, cfg.AI.Provider)
	assert.Equal(t, 2000, cfg.Storage.Hot.MaxEvents)
}

func TestConfigEnvErrors(t *testing.T) {
	cases := []struct {
		name, value string
		is          error
		msg         string
	}{
		{"FOUNDATION_AI__PLANNING__SAMPLING_RAT", "0.5", foundation.ErrPathNotFound, "FOUNDATION_AI__PLANNING__SAMPLING_RAT"},
		{"FOUNDATION_AI", "x", foundation.ErrPathNotFound, "FOUNDATION_AI"},
		{"FOUNDATION_", "x", foundation.ErrPathNotFound, "FOUNDATION_"},
		{"FOUNDATION_AI____MODEL", "x", foundation.ErrPathNotFound, "FOUNDATION_AI____MODEL"},
		{"FOUNDATION_DEV__DEBUG_MODE", "yes please", foundation.ErrTypeMismatch, "dev.debug_mode"},
		{"FOUNDATION_INTERFACE__MAX_RESULTS", "2.5", foundation.ErrTypeMismatch, "interface.max_results"},
		{"FOUNDATION_INTERFACE__MAX_RESULTS", "ten", foundation.ErrTypeMismatch, "interface.max_results"},
		{"FOUNDATION_AI__PLANNING__SAMPLING_RATE", "1.5", foundation.ErrRange, "environment variable FOUNDATION_AI__PLANNING__SAMPLING_RATE"},
		{"FOUNDATION_AI__PROVIDER", "skynet", foundation.ErrInvalidValue, "ai.provider"},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			_, err := foundation.New(foundation.WithEnv("FOUNDATION"))
			require.Error(t, err)
			assert.ErrorIs(t, err, c.is)
			assert.Contains(t, err.Error(), c.msg)
		})
	}
}

// Precedence, lowest first: defaults, WithConfig, the file, the environment,
// the runtime updates in the data dir (updatable paths only).
func TestConfigPrecedence(t *testing.T) {
	base := foundation.DefaultConfig()
	base.AI.Model = "from-withconfig"
	base.AI.Planning.PerformanceTarget = 0.2 // not in the file: WithConfig's value stays
	base.Interface.MaxResults = 111
	p := writeConfig(t, "app.yaml", `
ai:
  model: from-file
  provider: openai
  planning: {sampling_rate: 0.6}
interface: {max_results: 222}
dev: {verbose_logging: true}
`)
	t.Setenv("APP_INTERFACE__MAX_RESULTS", "333")
	dir := t.TempDir()

	f := newF(t, foundation.WithConfig(base), foundation.WithConfigFile(p), foundation.WithEnv("APP"), foundation.WithDataDir(dir))
	cfg := f.Config().Get().Config()
	assert.Equal(t, "from-file", cfg.AI.Model)
	assert.Equal(t, 0.2, cfg.AI.Planning.PerformanceTarget)
	assert.Equal(t, 0.6, cfg.AI.Planning.SamplingRate)
	assert.Equal(t, 333, cfg.Interface.MaxResults, "the environment beats the file")
	assert.Equal(t, foundation.DefaultConfig().Capture, cfg.Capture, "defaults where nothing is said")
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.33))
	require.NoError(t, f.Config().Update("dev.verbose_logging", false))
	require.NoError(t, f.Close())

	// Restart: the runtime values of updatable paths come from the data dir,
	// and each is logged; fixed paths come from the (changed) file.
	require.NoError(t, writeFile(p, `
ai:
  model: from-file-v2
  provider: anthropic
  planning: {sampling_rate: 0.6}
interface: {max_results: 222}
dev: {verbose_logging: true}
`))
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	f = newF(t, foundation.WithConfig(base), foundation.WithConfigFile(p), foundation.WithEnv("APP"),
		foundation.WithDataDir(dir), foundation.WithLogger(log))
	cfg = f.Config().Get().Config()
	assert.Equal(t, 0.33, cfg.AI.Planning.SamplingRate, "data dir beats the file for updatable paths")
	assert.False(t, cfg.Dev.VerboseLogging)
	assert.Equal(t, foundation.ProviderAnthropic, cfg.AI.Provider, "fixed paths come from the file")
	assert.Equal(t, "from-file-v2", cfg.AI.Model)
	assert.Equal(t, 333, cfg.Interface.MaxResults)
	out := logs.String()
	assert.Contains(t, out, "ai.planning.sampling_rate = 0.33 from version 2 in "+dir)
	assert.Contains(t, out, p+":5 says 0.6")
	assert.Contains(t, out, "dev.verbose_logging = false from version 2 in "+dir)
	assert.NotContains(t, out, "interface.max_results =", "unchanged at runtime: nothing to say")

	// Reset goes back to the start config: defaults < WithConfig < file < env.
	require.NoError(t, f.Config().Reset())
	cfg = f.Config().Get().Config()
	assert.Equal(t, 0.6, cfg.AI.Planning.SamplingRate)
	assert.True(t, cfg.Dev.VerboseLogging)
	require.NoError(t, f.Close())

	// A file that no longer validates stops New, naming it.
	require.NoError(t, os.WriteFile(p, []byte("ai: {planning: {sampling_rate: 2}}\n"), 0o600))
	_, err := foundation.New(foundation.WithConfigFile(p), foundation.WithDataDir(dir))
	assert.ErrorIs(t, err, foundation.ErrRange)
	assert.Contains(t, err.Error(), p+":1")
}

// With a data dir, the key given at start is the one in force after every
// restart, a restart with the same sources changes no version, and a fixed
// path changed in the file is taken from the file (one new version).
func TestConfigSourcesDurableWithSecret(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	require.NoError(t, writeFile(filepath.Join(dir, "key"), "sk-secret-1\n"))
	p := filepath.Join(dir, "app.yaml")
	require.NoError(t, writeFile(p, "ai:\n  api_key: {file: key}\n  model: m1\n"))
	open := func() *foundation.Foundation {
		f, err := foundation.New(foundation.WithConfigFile(p), foundation.WithDataDir(data))
		require.NoError(t, err)
		return f
	}
	f := open()
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.1))
	require.NoError(t, f.Config().Reset()) // a whole-config record in the log
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.4))
	require.NoError(t, f.Close())
	for i := 0; i < 2; i++ {
		f = open()
		assert.Equal(t, uint64(3), f.Config().Get().Version(), "restart %d changed the version", i)
		cfg := f.Config().Get().Config()
		assert.Equal(t, "sk-secret-1", cfg.AI.APIKey.Reveal())
		assert.Equal(t, 0.4, cfg.AI.Planning.SamplingRate)
		require.NoError(t, f.Close())
	}
	require.NoError(t, writeFile(filepath.Join(dir, "key"), "sk-secret-2"))
	require.NoError(t, writeFile(p, "ai:\n  api_key: {file: key}\n  model: m2\n"))
	f = open()
	cfg := f.Config().Get().Config()
	assert.Equal(t, "sk-secret-2", cfg.AI.APIKey.Reveal())
	assert.Equal(t, "m2", cfg.AI.Model)
	assert.Equal(t, 0.4, cfg.AI.Planning.SamplingRate)
	assert.Equal(t, uint64(4), f.Config().Get().Version(), "the new fixed value is one version")
	require.NoError(t, f.Close())
	f = open()
	assert.Equal(t, uint64(4), f.Config().Get().Version())
	assert.Equal(t, "m2", f.Config().Get().Config().AI.Model)
	require.NoError(t, f.Close())
	// The key never reaches the data dir.
	ents, err := os.ReadDir(data)
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(data, e.Name()))
		if err == nil {
			assert.NotContains(t, string(b), "sk-secret")
		}
	}
}
