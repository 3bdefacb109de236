package foundation_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

const testKey = "sk-live-0123456789abcdef"

// Every way a Secret can be printed or encoded gives the redacted form.
func TestSecretNeverShows(t *testing.T) {
	s := foundation.Secret(testKey)
	type holder struct {
		Key foundation.Secret `json:"key" xml:"key"`
	}
	type attr struct {
		Key foundation.Secret `xml:"key,attr"`
	}
	enc := func(f func() ([]byte, error)) string {
		b, err := f()
		require.NoError(t, err)
		return string(b)
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("m", "key", s, "nested", holder{s})
	var textBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&textBuf, nil)).Info("m", "key", s)
	cases := []struct{ name, out string }{
		{"%v", fmt.Sprintf("%v", s)},
		{"%+v", fmt.Sprintf("%+v", s)},
		{"%#v", fmt.Sprintf("%#v", s)},
		{"%s", fmt.Sprintf("%s", s)},
		{"%q", fmt.Sprintf("%q", s)},
		{"%x", fmt.Sprintf("%x", s)},
		{"%X", fmt.Sprintf("%X", s)},
		{"%10s", fmt.Sprintf("%10s", s)},
		{"%d", fmt.Sprintf("%d", s)},
		{"struct %+v", fmt.Sprintf("%+v", holder{s})},
		{"struct %#v", fmt.Sprintf("%#v", holder{s})},
		{"pointer %v", fmt.Sprintf("%v", &s)},
		{"Sprint", fmt.Sprint(s)},
		{"String", s.String()},
		{"GoString", s.GoString()},
		{"json", enc(func() ([]byte, error) { return json.Marshal(s) })},
		{"json struct", enc(func() ([]byte, error) { return json.Marshal(holder{s}) })},
		{"xml", enc(func() ([]byte, error) { return xml.Marshal(holder{s}) })},
		{"xml attr", enc(func() ([]byte, error) { return xml.Marshal(attr{s}) })},
		{"text", enc(s.MarshalText)},
		{"slog json", logBuf.String()},
		{"slog text", textBuf.String()},
		{"LogValue", s.LogValue().String()},
	}
	for _, c := range cases {
		if strings.Contains(c.out, testKey) || strings.Contains(c.out, fmt.Sprintf("%x", testKey)) ||
			strings.Contains(strings.ToLower(c.out), strings.ToLower(fmt.Sprintf("%X", testKey))) {
			t.Errorf("%s shows the secret: %s", c.name, c.out)
		}
		if !strings.Contains(c.out, "[REDACTED]") && !strings.Contains(strings.ToLower(c.out), fmt.Sprintf("%x", "[REDACTED]")) {
			t.Errorf("%s: %q lacks the redacted form", c.name, c.out)
		}
	}
	var _ slog.LogValuer = s
	require.Equal(t, testKey, s.Reveal())
}

// A value given for a path that names a secret (exactly or by a near miss)
// is never kept in an error.
func TestSecretNotInErrors(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	defer f.Close()
	for _, p := range []string{"ai.api_key", "AI.API_KEY", "Ai.Api_Key", " ai.api_key", "ai.apikey", "ai.secret", "db.password"} {
		err := f.Config().Update(p, testKey)
		require.Error(t, err, p)
		var fe *foundation.Error
		require.True(t, errors.As(err, &fe), p)
		j, _ := json.Marshal(fe)
		for _, out := range []string{err.Error(), fmt.Sprintf("%#v", fe), fmt.Sprintf("%+v", fe), fmt.Sprintf("%v", fe.Context), string(j)} {
			if strings.Contains(out, testKey) {
				t.Fatalf("%q: error holds the secret: %s", p, out)
			}
		}
		_, err = f.Config().Check(p, testKey)
		if err != nil && strings.Contains(fmt.Sprintf("%#v", err), testKey) {
			t.Fatalf("%q: Check error holds the secret", p)
		}
	}
}

// Durable mode holds an API key: it is never written to the data dir, and
// after a restart the key is the one the process started with.
func TestDurableWithAPIKey(t *testing.T) {
	dir := t.TempDir()
	cfg := foundation.DefaultConfig()
	cfg.AI.APIKey = testKey
	f, err := foundation.New(foundation.WithConfig(cfg), foundation.WithDataDir(dir))
	require.NoError(t, err)
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.25))
	require.NoError(t, f.Config().Reset())
	require.NoError(t, f.Config().Update("ai.planning.sampling_rate", 0.5))
	require.Equal(t, testKey, f.Config().Get().Config().AI.APIKey.Reveal())
	require.NoError(t, f.Close())
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(testKey)) {
				t.Errorf("%s holds the key in clear", p)
			}
		}
		return nil
	})
	cfg.AI.APIKey = "sk-rotated"
	f, err = foundation.New(foundation.WithConfig(cfg), foundation.WithDataDir(dir))
	require.NoError(t, err)
	defer f.Close()
	c := f.Config().Get()
	require.Equal(t, "sk-rotated", c.Config().AI.APIKey.Reveal())
	require.Equal(t, 0.5, c.Config().AI.Planning.SamplingRate)
	require.Equal(t, uint64(3), c.Version())
	require.Equal(t, foundation.StatusRunning, f.Health().Config.Status)
}

// A data dir deleted while running: the update fails with a clear error,
// Health says degraded and why, the log says it.
func TestDurableDeletedDirHealth(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	var logBuf syncBuffer
	f, err := foundation.New(foundation.WithDataDir(dir), foundation.WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Config().Update("dev.debug_mode", true))
	require.NoError(t, os.RemoveAll(dir))
	err = f.Config().Update("dev.debug_mode", false)
	require.Error(t, err)
	require.ErrorIs(t, err, foundation.ErrConfigStorage)
	require.Contains(t, err.Error(), "config storage")
	require.True(t, f.Config().Get().Config().Dev.DebugMode, "the failed change is not visible")
	h := f.Health().Config
	require.Equal(t, foundation.StatusDegraded, h.Status)
	require.Contains(t, h.Reason, "deleted")
	require.Contains(t, logBuf.String(), "config data dir problem")
	_, err = foundation.New(foundation.WithDataDir(dir))
	require.Error(t, err, "a second New on the path while the first runs")
}

// A flipped byte mid-log: New starts degraded with the newest provable
// state, Health and the log name the lost versions.
func TestDurableMediaDamageHealth(t *testing.T) {
	dir := t.TempDir()
	f, err := foundation.New(foundation.WithDataDir(dir))
	require.NoError(t, err)
	for i := 1; i <= 10; i++ {
		require.NoError(t, f.Config().Update("interface.max_results", i))
	}
	require.NoError(t, f.Close())
	seg := filepath.Join(dir, "wal-00000000000000000001.log")
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[len(b)/2] ^= 0x10
	require.NoError(t, os.WriteFile(seg, b, 0o600))
	var logBuf syncBuffer
	f, err = foundation.New(foundation.WithDataDir(dir), foundation.WithLogger(slog.New(slog.NewTextHandler(&logBuf, nil))))
	require.NoError(t, err)
	defer f.Close()
	h := f.Health().Config
	require.Equal(t, foundation.StatusDegraded, h.Status)
	require.Contains(t, h.Reason, "media damage")
	require.Contains(t, logBuf.String(), "lost_first")
	v := f.Config().Get().Version()
	require.Less(t, v, uint64(10))
	require.Equal(t, int(v), f.Config().Get().Config().Interface.MaxResults)
	_, err = os.Stat(seg + ".corrupt")
	require.NoError(t, err)
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The data dir is private by default, group-readable on request.
func TestDataDirModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, group := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "data")
		opts := []foundation.Option{foundation.WithDataDir(dir)}
		wantD, wantF := os.FileMode(0o700), os.FileMode(0o600)
		if group {
			opts = append(opts, foundation.WithGroupReadableDataDir())
			wantD, wantF = 0o750, 0o640
		}
		f, err := foundation.New(opts...)
		require.NoError(t, err)
		require.NoError(t, f.Config().Update("dev.debug_mode", true))
		require.NoError(t, f.Close())
		fi, err := os.Stat(dir)
		require.NoError(t, err)
		require.Equal(t, wantD, fi.Mode().Perm(), "dir")
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			fi, _ := e.Info()
			require.Equal(t, wantF, fi.Mode().Perm(), e.Name())
		}
	}
}
