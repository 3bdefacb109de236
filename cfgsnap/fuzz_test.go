package cfgsnap

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// FuzzDecodeRecord: the log decoder never panics, refuses bad input with an
// ErrCorrupt error, and what it accepts re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range []record{
		{version: 1, time: 1, kind: recUpdate, tag: tagInt, path: "count", value: make([]byte, 8)},
		{version: 2, time: -1, kind: recUpdate, tag: tagBool, path: "a.b", value: []byte{1}},
		{version: 3, kind: recUpdate, tag: tagString, path: "mode", value: []byte("fast")},
		{version: 4, kind: recUpdate, tag: tagFloat, path: "rate", value: []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f}},
		{version: 5, kind: recReset, tag: tagJSON, value: []byte(`{"Count":1}`)},
		{version: math.MaxUint64, kind: recFunc, tag: tagJSON, value: []byte(`{}`)},
		{version: 6, kind: recMulti, tag: tagMulti, value: appendMulti(nil, []leafValue{{"count", tagInt, make([]byte, 8)}, {"mode", tagString, []byte("fast")}})},
	} {
		b := appendRecord(nil, &r)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(b, b...))
	}
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || n != 0 {
				t.Fatalf("error %v (n %d) does not match ErrCorrupt", err, n)
			}
			return
		}
		if n < recHeader+recMinBody || n > len(b) {
			t.Fatalf("n = %d of %d", n, len(b))
		}
		if again := appendRecord(nil, &r); !bytes.Equal(again, b[:n]) {
			t.Fatalf("round trip:\n%x\n%x", again, b[:n])
		}
	})
}

// FuzzDecodeSnapshot: the snapshot decoder never panics and round-trips.
func FuzzDecodeSnapshot(f *testing.F) {
	img := encodeSnapshot(7, 99, []byte(`{"Count":3}`))
	f.Add(img)
	f.Add(img[:len(img)-1])
	f.Add([]byte(snapMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, tn, payload, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatal(err)
			}
			return
		}
		if !bytes.Equal(encodeSnapshot(v, tn, payload), b) {
			t.Fatal("round trip")
		}
	})
}

// FuzzPath: path parsing never panics; a parsed path joins back to itself;
// Lookup and Update of any string either work or fail with the documented
// sentinel, and a failed Update changes nothing.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"count", "pair.a", "pair", "pair.", ".pair", "a..b", "", "Count", "api_key", "x.y.z", "ü", strings.Repeat("a.", 600)} {
		f.Add(s, int64(3))
	}
	st, err := Open(defaults(), Config[testCfg]{Validate: validPair})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, p string, n int64) {
		segs, err := parsePath(p)
		if err != nil {
			if !errors.Is(err, ErrPathNotFound) {
				t.Fatal(err)
			}
		} else if strings.Join(segs, ".") != p {
			t.Fatalf("%q split into %q", p, segs)
		}
		if _, err := st.Lookup(p); err != nil && !errors.Is(err, ErrPathNotFound) {
			t.Fatal(err)
		} else if err == nil && segs == nil {
			t.Fatalf("Lookup accepted malformed %q", p)
		}
		before := st.Load()
		for _, v := range []any{n, float64(n), p, n != 0} {
			if _, err := st.Update(p, v); err != nil {
				var pe *PathError
				if !errors.As(err, &pe) {
					t.Fatalf("%T %v", err, err)
				}
				if st.Load() != before {
					t.Fatal("failed update changed the snapshot")
				}
			} else {
				before = st.Load()
			}
		}
	})
}
