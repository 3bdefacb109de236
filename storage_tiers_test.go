package foundation_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

type nopExporter struct{}

func (nopExporter) Export(context.Context, []foundation.Event) error { return nil }

func TestStorageTiersAtNew(t *testing.T) {
	cfg := foundation.DefaultConfig()
	cfg.Storage.Cold.Enable = true
	_, err := foundation.New(foundation.WithConfig(cfg))
	require.ErrorIs(t, err, foundation.ErrConstraint)
	require.ErrorContains(t, err, "storage.cold.enable")

	f, err := foundation.New(foundation.WithConfig(cfg), foundation.WithExporter(nopExporter{}))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	// The warm tier opens (and locks) storage.warm.path.
	cfg = foundation.DefaultConfig()
	cfg.Storage.Warm.Enable = true
	cfg.Storage.Warm.Path = t.TempDir()
	f, err = foundation.New(foundation.WithConfig(cfg))
	require.NoError(t, err)
	require.True(t, f.Events().Stats().Warm.Enabled)
	_, err = foundation.New(foundation.WithConfig(cfg))
	require.True(t, errors.Is(err, foundation.ErrInternal), "%v", err)
	require.ErrorContains(t, err, "storage.warm.path")
	require.NoError(t, f.Close())
}
