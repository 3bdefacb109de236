package shard

import (
	"hash/maphash"
	"slices"
)

// hasher maps keys to shards with a per-table seed, so that an adversary who
// knows the keys of one table cannot aim all of them at one shard of another.
type hasher[K comparable] struct {
	seed maphash.Seed
	n    uint64 // shard count, >= 1
}

func newHasher[K comparable](n int) hasher[K] {
	return hasher[K]{seed: maphash.MakeSeed(), n: uint64(n)}
}

// hash is the seeded 64-bit hash of k. It does not allocate.
func (h *hasher[K]) hash(k K) uint64 { return maphash.Comparable(h.seed, k) }

// index picks a shard from the top 32 bits of a hash (a multiply-shift, no
// division). The maps inside a shard use the low bits, so the two choices
// stay independent.
func (h *hasher[K]) index(x uint64) int { return int(((x >> 32) * h.n) >> 32) }

// Object is one ETS object: a key and its value ({Key, Value} in Erlang).
type Object[K, V any] struct {
	Key   K
	Value V
}

func sortCompact(buf []int) []int {
	slices.Sort(buf)
	return slices.Compact(buf)
}
