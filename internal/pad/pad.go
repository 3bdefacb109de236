// Package pad holds the cache-line constants that the packages of foundation
// use to keep hot words apart (false sharing).
//
// Two sizes, for two jobs:
//
//   - [CacheLine] (64 bytes) pads the cells of stripe arrays (counter stripes,
//     histogram stripes). On amd64 and arm64 a cache line is 64 bytes; the
//     adjacent-line prefetcher of Intel cores pulls lines in pairs, but padding
//     every stripe to 128 bytes doubles the memory of every striped metric for a
//     gain that shows only on large NUMA machines (xsync makes the same call).
//   - [FalseSharingRange] (128 bytes) surrounds lone hot words that two cores
//     write at high rate (a ring's claim counter, its tail): there the pair
//     prefetcher does matter and the cost is a few bytes per structure.
package pad

// CacheLine is the size of one cache line on the targets we care about.
const CacheLine = 64

// FalseSharingRange is the distance that keeps two hot words from ever being
// pulled into the same (prefetched pair of) cache lines.
const FalseSharingRange = 128
