package shard

import (
	"errors"
	"fmt"
	"runtime"
)

// Errors returned by this package. They are plain sentinels (callers wrap them);
// match them with [errors.Is]: the returned error may wrap one of them with the
// offending value in its message.
var (
	// ErrOption reports a bad option given to a constructor (a zero or negative
	// shard count, for one). The table is not created.
	ErrOption = errors.New("shard: bad option")
	// ErrAbsent is ETS's badarg for an update on a key that is not in the table
	// ([UpdateCounter] without a default). The table is unchanged.
	ErrAbsent = errors.New("shard: key absent")
	// ErrNilFunc reports a nil predicate or function. The table is unchanged.
	ErrNilFunc = errors.New("shard: nil function")
	// ErrLimit reports a negative limit. The table is unchanged.
	ErrLimit = errors.New("shard: negative limit")
	// ErrContinuation reports a [Continuation] that was returned by another table.
	ErrContinuation = errors.New("shard: continuation from another table")
)

// maxShards bounds WithShards: more shards than this only wastes memory.
const maxShards = 1 << 16

// DefaultShards returns the shard count used when [WithShards] is not given:
// four per P (runtime.GOMAXPROCS(0)), so that two writers rarely pick the same shard.
// [OrderedSet] is the exception: it defaults to one shard (one tree).
func DefaultShards() int { return 4 * runtime.GOMAXPROCS(0) }

type settings struct {
	shards   int
	sizeHint int
}

// Option configures a table at construction. A bad option makes the
// constructor return an error wrapping [ErrOption]; the last of repeated
// options wins.
type Option interface{ apply(*settings) }

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

// WithShards sets the number of shards (independent locks and maps) of a table.
// It must be between 1 and 65536; the default is [DefaultShards] (1 for an
// [OrderedSet]). More shards mean fewer writers waiting on each other and a
// higher fixed memory cost, and for an OrderedSet slower ordered reads.
func WithShards(n int) Option { return optionFunc(func(s *settings) { s.shards = n }) }

// WithSizeHint presizes a table for about n objects, so that it does not grow
// (rehash) while filling up. Zero (the default) means no presizing; a negative
// hint is an error.
func WithSizeHint(n int) Option { return optionFunc(func(s *settings) { s.sizeHint = n }) }

func buildSettings(opts []Option) (settings, error) {
	return buildSettingsShards(opts, DefaultShards())
}

// buildSettingsShards is buildSettings with defShards shards when no
// [WithShards] is given.
func buildSettingsShards(opts []Option, defShards int) (settings, error) {
	s := settings{shards: defShards}
	for _, o := range opts {
		if o == nil {
			return s, fmt.Errorf("%w: nil Option", ErrOption)
		}
		o.apply(&s)
	}
	if s.shards < 1 || s.shards > maxShards {
		return s, fmt.Errorf("%w: shards %d not in [1, %d]", ErrOption, s.shards, maxShards)
	}
	if s.sizeHint < 0 {
		return s, fmt.Errorf("%w: size hint %d < 0", ErrOption, s.sizeHint)
	}
	return s, nil
}
