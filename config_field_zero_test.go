package foundation_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// TestConfigFieldZero: a handle whose Field call failed (the caller
// ignored the error) reads the zero value instead of panicking.
func TestConfigFieldZero(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	defer f.Close()
	h, err := foundation.Field[float64](f.Config(), "ai.planning.no_such_field")
	require.ErrorIs(t, err, foundation.ErrPathNotFound)
	require.Equal(t, 0.0, h.Get())
	var zero foundation.ConfigField[int]
	require.Equal(t, 0, zero.Get())
}
