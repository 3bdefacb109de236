package main

import (
	"bytes"

	"github.com/google/pprof/profile"
)

// diffProfile returns the protobuf profile end − base: what a cumulative
// profile (allocs, block, mutex) gathered between the two, as
// `go tool pprof -diff_base` would compute it. Samples that net to zero are
// dropped. A nil base returns end.
func diffProfile(end, base []byte) ([]byte, error) {
	if base == nil {
		return end, nil
	}
	pe, err := profile.ParseData(end)
	if err != nil {
		return nil, err
	}
	pb, err := profile.ParseData(base)
	if err != nil {
		return nil, err
	}
	pb.Scale(-1)
	p, err := profile.Merge([]*profile.Profile{pe, pb})
	if err != nil {
		return nil, err
	}
	kept := p.Sample[:0]
	for _, s := range p.Sample {
		for _, v := range s.Value {
			if v != 0 {
				kept = append(kept, s)
				break
			}
		}
	}
	p.Sample = kept
	p = p.Compact()
	p.TimeNanos, p.DurationNanos = pe.TimeNanos, pe.TimeNanos-pb.TimeNanos
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
