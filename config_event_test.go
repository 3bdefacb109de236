package foundation

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// appendChangeJSON appends the Data of a config change event,
// {"path":…,"old":…,"new":…,"version":…}, from appendJSONString and
// appendLeaf with nothing kept between calls: the reference the tests hold
// changeEncoder to, and hold to encoding/json's bytes.
func appendChangeJSON(b []byte, path string, old, new any, version uint64) ([]byte, error) {
	b = append(b, `{"path":`...)
	b = appendJSONString(b, path)
	b = append(b, `,"old":`...)
	b, _, err := appendLeaf(b, old)
	if err != nil {
		return b, err
	}
	b = append(b, `,"new":`...)
	if b, _, err = appendLeaf(b, new); err != nil {
		return b, err
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, '}'), nil
}

// appendChangeJSON must give exactly encoding/json's bytes.
func TestAppendChangeJSONMatchesEncodingJSON(t *testing.T) {
	vals := []any{0.0, 1.0, -1.0, 0.01, 1e-7, 1e-6, 123456789.125, 1e21, 1e20, -2.5e-10, math.MaxFloat64,
		math.SmallestNonzeroFloat64, 0, 1, -7, math.MaxInt, true, false, 50 * time.Millisecond, time.Duration(-1),
		"", "fast", `q"uote`, "<b>&", "tab\there", "é", "\u2028", ProviderOpenAI, StrategyFast, DropNewest,
		Compression("zstd"), Secret("sk"), nil, DefaultConfig()}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 2))
	for i := 0; i < 20000; i++ {
		vals = append(vals, math.Float64frombits(r.Uint64()), r.NormFloat64()*math.Pow(10, float64(r.IntN(60)-30)))
		// Short decimals, the fast path: n / 10^k, and near misses.
		k := r.IntN(17)
		x := float64(r.Int64N(1<<uint(r.IntN(60)+1))) / math.Pow(10, float64(k))
		vals = append(vals, x, -x, math.Nextafter(x, 2*x+1), x*3)
	}
	for _, x := range []float64{0.1, 0.2, 0.3, 1.1, 2.675, 123.456, 1e-5, 0.000001, 0.0000015, 4503599627370495.5,
		4503599627370496, 9007199254740993, 1e15, 1e16, 1e20, 0.1 + 0.2, 100, 1.5e-6} {
		vals = append(vals, x, -x)
	}
	for _, v := range vals {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			continue
		}
		want, err := json.Marshal(struct {
			Path    string `json:"path"`
			Old     any    `json:"old"`
			New     any    `json:"new"`
			Version uint64 `json:"version"`
		}{"a.b", v, v, 42})
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendChangeJSON(nil, "a.b", v, v, 42)
		if err != nil || string(got) != string(want) {
			t.Fatalf("%#v:\n got %s (%v)\nwant %s", v, got, err, want)
		}
	}
	if _, err := appendChangeJSON(nil, "x", math.NaN(), 1.0, 1); err == nil {
		t.Fatal("NaN encoded")
	}
	if testing.AllocsPerRun(100, func() { _, _ = appendChangeJSON(make([]byte, 0, 128), "a.b", 0.5, 0.25, 7) }) > 1 {
		t.Fatal("allocates")
	}
}

// valid and EnumValues must agree.
func TestEnumValidMatchesValues(t *testing.T) {
	check := func(vals []string, valid func(string) bool) {
		for _, v := range vals {
			if !valid(v) {
				t.Errorf("%q not valid", v)
			}
		}
		for _, v := range []string{"", "x", "MOCK", "fast "} {
			if valid(v) {
				t.Errorf("%q valid", v)
			}
		}
	}
	check(Provider("").EnumValues(), func(s string) bool { return Provider(s).valid() })
	check(Strategy("").EnumValues(), func(s string) bool { return Strategy(s).valid() })
	check(OverflowStrategy("").EnumValues(), func(s string) bool { return OverflowStrategy(s).valid() })
	check(Compression("").EnumValues(), func(s string) bool { return Compression(s).valid() })
}

// The encoder's reuse of the last new value gives the same bytes.
func TestChangeEncoderReuse(t *testing.T) {
	var e changeEncoder
	negZero := math.Copysign(0, -1) // == 0, but encoded -0: an equal old value is not the last one's encoding
	steps := []struct {
		path     string
		old, new any
	}{
		{"a", 1.0, 0.5}, {"a", 0.5, 0.25}, {"b", 0.25, 3}, {"a", 0.25, 0.5}, {"a", 0.5, 0.5},
		{"c", DefaultConfig(), DefaultConfig()}, {"c", DefaultConfig(), 1}, {"c", 1, "x"}, {"c", "x", true},
		{"d", 1.0, negZero}, {"d", 0.0, 0.5}, {"d", 0.5, 0.0}, {"d", negZero, 1.0},
	}
	for i, s := range steps {
		want, _ := appendChangeJSON(nil, s.path, s.old, s.new, uint64(i))
		got, err := e.encode(s.path, s.old, s.new, uint64(i))
		if err != nil || string(got) != string(want) {
			t.Fatalf("step %d: got %s (%v), want %s", i, got, err, want)
		}
	}
	// Versions: the in-place increment across carries, jumps, a failed
	// encode in between, and the largest versions.
	versions := []uint64{8, 9, 10, 10, 10, 11, 99, 100, 100, 101, 999, 1000, 5, 6, 1<<32 - 1, 1 << 32, 9_999_999_999_999_999_999,
		10_000_000_000_000_000_000, math.MaxUint64 - 1, math.MaxUint64, 0, 1}
	paths := []string{"a", "a", "b", ""}
	for i, v := range versions {
		path := paths[i%len(paths)]
		old, nv := any(float64(i)/4), any(float64(i+1)/4)
		if i%5 == 3 {
			if _, err := e.encode(path, old, math.NaN(), v); err == nil {
				t.Fatal("NaN encoded")
			}
		}
		want, _ := appendChangeJSON(nil, path, old, nv, v)
		got, err := e.encode(path, old, nv, v)
		if err != nil || string(got) != string(want) {
			t.Fatalf("version %d: got %s (%v), want %s", v, got, err, want)
		}
	}
}

// An update of the same path reuses the encoder's buffer, prefix and the
// last new value's encoding: no allocation.
func TestChangeEncoderAllocatesNothing(t *testing.T) {
	if raceOn {
		t.Skip("allocation counts are not meaningful under -race")
	}
	var e changeEncoder
	vals := [2]any{0.5, 0.25}
	v := uint64(0)
	if n := testing.AllocsPerRun(1000, func() {
		v++
		if _, err := e.encode("ai.planning.sampling_rate", vals[v&1], vals[(v+1)&1], v); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("encode allocates %v times", n)
	}
}

// FuzzAppendJSONFloat: the float encoding is encoding/json's, byte for byte.
func FuzzAppendJSONFloat(f *testing.F) {
	for _, x := range []float64{0, 0.25, 0.1, 1e-7, 1e21, 123.456, -2.5, 4503599627370495.5} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		want, err := json.Marshal(x)
		got, gerr := appendJSONFloat(nil, x)
		if (err == nil) != (gerr == nil) || err == nil && string(got) != string(want) {
			t.Fatalf("%v: got %s (%v), want %s (%v)", x, got, gerr, want, err)
		}
	})
}
