package metrics

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTagValuesBounded: a tag value over MaxTagValueLen, or one holding the
// key separator 0xff, makes no series of its own (it goes to the overflow
// series, counted), so two different tag sets never share a series and a
// caller's long values cannot grow a metric in bytes; by With and by Execute.
func TestTagValuesBounded(t *testing.T) {
	r := NewRegistry()
	cv, err := r.CounterVec("req", Desc{Tags: []string{"a", "b"}})
	require.NoError(t, err)

	cv.With("x\xff", "y").Add(1) // joined, both would read "x\xff\xffy"
	cv.With("x", "\xffy").Add(1)
	cv.With(strings.Repeat("v", MaxTagValueLen+1), "y").Add(1)
	cv.With(strings.Repeat("v", MaxTagValueLen), "y").Add(1) // at the bound: its own series
	assert.Equal(t, uint64(3), cv.Overflowed())

	// By Execute: a recording dispatcher takes tag values from metadata.
	hv, err := r.HistogramVec("lat.duration", Desc{Tags: []string{"route"}})
	require.NoError(t, err)
	d := NewDispatcher(Recording(r))
	d.Execute("lat", Measurements{"duration": 10}, Metadata{"route": strings.Repeat("r", MaxTagValueLen+1)})
	d.Execute("lat", Measurements{"duration": 10}, Metadata{"route": "a\xffb"})
	d.Execute("lat", Measurements{"duration": 10}, Metadata{"route": "/ok"})
	assert.Equal(t, uint64(2), hv.Overflowed())

	got := map[string]uint64{}
	for _, s := range r.Snapshot().Series {
		if s.Name != "req" {
			continue
		}
		k := s.Labels[0].Value + "|" + s.Labels[1].Value
		if s.Overflow {
			k = "overflow"
		}
		got[k] += s.Counter
	}
	assert.Equal(t, map[string]uint64{"overflow": 3, strings.Repeat("v", MaxTagValueLen) + "|y": 1}, got)
}
