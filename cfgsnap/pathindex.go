package cfgsnap

import "math/bits"

// pathIndex finds the field of an updatable path with no map: a hash of
// the path's length and of its first and last 8 bytes, times a multiplier
// that Open chose so that no two updatable paths share a slot, picks one
// slot, and one string comparison confirms it. An update names its path
// once per call; this is a few instructions where a map lookup hashes the
// whole string and probes.
type pathIndex struct {
	mul   uint64
	shift uint8
	slots []*field // nil when no multiplier separated the paths: look them up in the schema's map
}

// pathKey mixes the length and the first and last 8 bytes of p. Paths of
// a schema differ in one of those in practice; two that don't make
// newPathIndex fall back to the map.
func pathKey(p string) uint64 {
	n := len(p)
	var a, b uint64
	if n >= 8 {
		a, b = le64(p), le64(p[n-8:])
	} else {
		for i := 0; i < n; i++ {
			a |= uint64(p[i]) << (8 * i)
		}
	}
	return a ^ bits.RotateLeft64(b, 29) ^ uint64(n)*0x9e3779b97f4a7c15
}

// le64 reads the first 8 bytes of s, little-endian (one load).
func le64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// newPathIndex builds the index of fields (distinct paths), or one with no
// slots when no multiplier among the ones tried separates their paths.
func newPathIndex(fields []*field) pathIndex {
	if len(fields) == 0 {
		return pathIndex{}
	}
	size := 8
	for size < 4*len(fields) {
		size *= 2
	}
	shift := uint8(64 - bits.TrailingZeros(uint(size)))
	keys := make([]uint64, len(fields))
	for i, f := range fields {
		keys[i] = pathKey(f.path)
	}
	slots := make([]*field, size)
	seed := uint64(0x243f6a8885a308d3)
	for try := 0; try < 4096; try++ {
		seed += 0x9e3779b97f4a7c15 // splitmix64
		z := (seed ^ seed>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		mul := (z ^ z>>31) | 1
		clear(slots)
		ok := true
		for i, k := range keys {
			h := k * mul >> shift
			if slots[h] != nil {
				ok = false
				break
			}
			slots[h] = fields[i]
		}
		if ok {
			return pathIndex{mul: mul, shift: shift, slots: slots}
		}
	}
	return pathIndex{}
}

// lookup returns the field of path p, or nil when p is not in the index.
// ok is false when the index has no slots (the caller uses the map).
func (x *pathIndex) lookup(p string) (f *field, ok bool) {
	if x.slots == nil {
		return nil, false
	}
	if f = x.slots[pathKey(p)*x.mul>>x.shift]; f != nil && f.path == p {
		return f, true
	}
	return nil, true
}
