package foundation

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// A config or secret file that is a FIFO (no writer) is refused at once,
// checked on the opened file, not by a Stat before it: open and read would
// otherwise wait for a writer forever.
func TestConfigFileFIFORefused(t *testing.T) {
	name := filepath.Join(t.TempDir(), "config.yaml")
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := openRegular(name)
	require.True(t, errors.Is(err, errNotRegular), "openRegular: %v", err)
	_, err = readFileCapped(name)
	require.ErrorIs(t, err, ErrConfigSource)
	require.Contains(t, err.Error(), "not a regular file")
	_, err = readSecretFile("file", "ai.api_key", name)
	require.ErrorIs(t, err, ErrConfigSource)
	require.Contains(t, err.Error(), "not a regular file")
	_, err = New(WithConfigFile(name))
	require.ErrorIs(t, err, ErrConfigSource)
}
