package prometheus

import (
	"math"

	dto "github.com/prometheus/client_model/go"

	"github.com/elixirscope-go/foundation/metrics"
)

// addNative adds to h the native buckets of schema for the HDR buckets bs.
// Each HDR bucket goes, whole, to the native bucket that contains its upper
// bound (HDR buckets are narrower than native ones, except at schema 8 where
// they are of the same order, so a bucket's values can sit one native
// bucket too high by at most the HDR precision). The HDR bucket of 0 goes
// to the zero bucket.
func addNative(h *dto.Histogram, bs []metrics.Bucket, schema int32, scale float64) {
	var zero uint64
	var idx []int32
	var cnt []int64
	for _, b := range bs {
		if b.UpperBound <= 0 {
			zero += b.Count
			continue
		}
		i := nativeIndex(float64(b.UpperBound)*scale, schema)
		if n := len(idx); n > 0 && idx[n-1] == i {
			cnt[n-1] += int64(b.Count)
			continue
		}
		idx = append(idx, i)
		cnt = append(cnt, int64(b.Count))
	}
	h.Schema = &schema
	h.ZeroThreshold = new(0.0)
	h.ZeroCount = &zero
	h.PositiveSpan, h.PositiveDelta = spans(idx, cnt)
	if len(h.PositiveSpan) == 0 && zero == 0 {
		// An empty native histogram needs one empty span to be recognized
		// as native (as client_golang does).
		h.PositiveSpan = []*dto.BucketSpan{{Offset: new(int32(0)), Length: new(uint32(0))}}
	}
}

// nativeIndex returns the index of the native bucket of schema that holds
// v > 0: the i with 2^((i-1)/2^schema) < v <= 2^(i/2^schema).
func nativeIndex(v float64, schema int32) int32 {
	scale := math.Ldexp(1, int(schema)) // 2^schema
	upper := func(i int32) float64 { return math.Exp2(float64(i) / scale) }
	i := int32(math.Ceil(math.Log2(v) * scale))
	for upper(i) < v { // correct the rounding of Log2 and Exp2
		i++
	}
	for upper(i-1) >= v {
		i--
	}
	return i
}

// spans encodes the ascending bucket indexes idx and their counts as
// Prometheus' spans (runs of consecutive indexes, each with the gap before
// it) and deltas (each count minus the previous one).
func spans(idx []int32, cnt []int64) ([]*dto.BucketSpan, []int64) {
	var sp []*dto.BucketSpan
	deltas := make([]int64, len(cnt))
	var prevCnt int64
	for j, i := range idx {
		deltas[j] = cnt[j] - prevCnt
		prevCnt = cnt[j]
		switch {
		case j == 0:
			sp = append(sp, &dto.BucketSpan{Offset: new(i), Length: new(uint32(1))})
		case i == idx[j-1]+1:
			*sp[len(sp)-1].Length++
		default:
			sp = append(sp, &dto.BucketSpan{Offset: new(i - idx[j-1] - 1), Length: new(uint32(1))})
		}
	}
	return sp, deltas
}
