package cfgsnap

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

type mode string

func (mode) EnumValues() []string { return []string{"fast", "balanced", "thorough"} }

type pair struct {
	A int64
	B int64
}

type testCfg struct {
	Name    string
	Mode    mode
	Rate    float64
	Small   float32
	Count   int
	Tiny    int8
	U16     uint16
	Debug   bool
	Timeout time.Duration
	APIKey  string `cfg:",secret"`
	Pair    pair
	Renamed int `cfg:"custom_name"`
	Skipped int `cfg:"-"`
	When    time.Time
	//lint:ignore U1000 an unexported field, to test that the schema skips it
	internal int
}

func defaults() testCfg {
	return testCfg{Name: "x", Mode: "balanced", Rate: 0.5, Count: 10, Timeout: time.Second}
}

// validPair refuses a candidate whose two pair fields differ: a reader that
// ever sees them differ has seen a half-applied change.
func validPair(c *testCfg) error {
	if c.Pair.A != c.Pair.B {
		return fmt.Errorf("pair.a %d != pair.b %d", c.Pair.A, c.Pair.B)
	}
	if c.Rate < 0 || c.Rate > 1 {
		return errors.New("rate out of [0, 1]")
	}
	return nil
}

func open(t testing.TB, opts Config[testCfg]) *Store[testCfg] {
	t.Helper()
	st, err := Open(defaults(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Name": "name", "MaxFileSize": "max_file_size", "APIKey": "api_key", "CacheTTL": "cache_ttl",
		"SHA256Sum": "sha256_sum", "V2": "v2", "HTTPServer": "http_server", "X": "x", "ID": "id",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPaths(t *testing.T) {
	st := open(t, Config[testCfg]{})
	want := []string{"api_key", "count", "custom_name", "debug", "mode", "name", "pair.a", "pair.b", "rate", "small", "timeout", "tiny", "u16"}
	if got := st.Paths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Paths = %v\nwant    %v", got, want)
	}
	if got := st.UpdatablePaths(); !reflect.DeepEqual(got, want) {
		t.Fatalf("UpdatablePaths = %v", got)
	}
	st2 := open(t, Config[testCfg]{Updatable: []string{"rate", "count"}})
	if got := st2.UpdatablePaths(); !reflect.DeepEqual(got, []string{"count", "rate"}) {
		t.Fatalf("UpdatablePaths = %v", got)
	}
}

func TestOpenErrors(t *testing.T) {
	type withMap struct{ M map[string]int }
	if _, err := Open(withMap{}, Config[withMap]{}); !errors.Is(err, ErrOption) {
		t.Errorf("map without Clone: %v", err)
	}
	if _, err := Open(withMap{}, Config[withMap]{Clone: func(w *withMap) withMap { return *w }}); err != nil {
		t.Errorf("map with Clone: %v", err)
	}
	type badTag struct {
		X int `cfg:"Bad.Name"`
	}
	if _, err := Open(badTag{}, Config[badTag]{}); !errors.Is(err, ErrOption) {
		t.Errorf("bad tag: %v", err)
	}
	type dup struct {
		X int `cfg:"y"`
		Y int
	}
	if _, err := Open(dup{}, Config[dup]{}); !errors.Is(err, ErrOption) {
		t.Errorf("duplicate path: %v", err)
	}
	cases := []struct {
		name string
		opts Config[testCfg]
		want error
	}{
		{"unknown updatable", Config[testCfg]{Updatable: []string{"nope"}}, ErrPathNotFound},
		{"parent updatable", Config[testCfg]{Updatable: []string{"pair"}}, ErrForbidden},
		{"negative snapshot every", Config[testCfg]{SnapshotEvery: -1}, ErrOption},
		{"invalid initial", Config[testCfg]{Validate: func(*testCfg) error { return errSentinel }}, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Open(defaults(), c.opts)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	_, err := Open(defaults(), Config[testCfg]{Validate: func(*testCfg) error { return errSentinel }})
	if !errors.Is(err, errSentinel) {
		t.Fatalf("validator error not reachable: %v", err)
	}
}

var errSentinel = errors.New("refused by test")

type myInt int32
type myFloat float64

func TestUpdateConversion(t *testing.T) {
	cases := []struct {
		path  string
		value any
		want  any   // field value after, when err is nil
		err   error // sentinel
	}{
		{"count", 5, 5, nil},
		{"count", int8(-3), -3, nil},
		{"count", uint64(7), 7, nil},
		{"count", myInt(9), 9, nil},
		{"count", uint64(math.MaxUint64), nil, ErrOutOfRange},
		{"count", 1.0, 1, nil}, // an integral float, as JSON and YAML decode numbers
		{"count", float32(-4), -4, nil},
		{"count", 1.5, nil, ErrTypeMismatch},
		{"count", 1e300, nil, ErrOutOfRange},
		{"count", math.NaN(), nil, ErrInvalidValue},
		{"count", math.Inf(1), nil, ErrInvalidValue},
		{"tiny", 128.0, nil, ErrOutOfRange},
		{"u16", 65535.0, uint16(65535), nil},
		{"u16", -1.0, nil, ErrOutOfRange},
		{"u16", 0.5, nil, ErrTypeMismatch},
		{"count", "1", nil, ErrTypeMismatch},
		{"count", nil, nil, ErrTypeMismatch},
		{"tiny", 127, int8(127), nil},
		{"tiny", 128, nil, ErrOutOfRange},
		{"tiny", -129, nil, ErrOutOfRange},
		{"u16", 65535, uint16(65535), nil},
		{"u16", -1, nil, ErrOutOfRange},
		{"u16", uint32(65536), nil, ErrOutOfRange},
		{"rate", 0.25, 0.25, nil},
		{"rate", float32(0.5), 0.5, nil},
		{"rate", 1, 1.0, nil},
		{"rate", uint8(0), 0.0, nil},
		{"rate", myFloat(0.75), 0.75, nil},
		{"rate", math.NaN(), nil, ErrInvalidValue},
		{"rate", math.Inf(1), nil, ErrInvalidValue},
		{"rate", math.Inf(-1), nil, ErrInvalidValue},
		{"rate", "0.5", nil, ErrTypeMismatch},
		{"rate", true, nil, ErrTypeMismatch},
		{"rate", 1.5, nil, ErrInvalid}, // the validator
		{"small", 1e39, nil, ErrOutOfRange},
		{"small", 2.5, float32(2.5), nil},
		{"debug", true, true, nil},
		{"debug", 1, nil, ErrTypeMismatch},
		{"debug", "true", nil, ErrTypeMismatch},
		{"name", "y", "y", nil},
		{"name", []byte("y"), nil, ErrTypeMismatch},
		{"name", mode("fast"), nil, ErrTypeMismatch},
		{"mode", "fast", mode("fast"), nil},
		{"mode", mode("thorough"), mode("thorough"), nil},
		{"mode", "slow", nil, ErrNotInSet},
		{"mode", mode("slow"), nil, ErrNotInSet},
		{"mode", 1, nil, ErrTypeMismatch},
		{"timeout", 5 * time.Second, 5 * time.Second, nil},
		{"timeout", "150ms", 150 * time.Millisecond, nil},
		{"timeout", "soon", nil, ErrTypeMismatch},
		{"timeout", int64(5), nil, ErrTypeMismatch},
		{"pair.a", 3, nil, ErrInvalid}, // a != b
		{"pair", pair{}, nil, ErrForbidden},
		{"nope", 1, nil, ErrForbidden},
		{"", 1, nil, ErrForbidden},
		{"skipped", 1, nil, ErrForbidden},
		{"custom_name", 4, 4, nil},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s=%v", c.path, c.value), func(t *testing.T) {
			st := open(t, Config[testCfg]{Validate: validPair})
			before := st.Load()
			ch, err := st.Update(c.path, c.value)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err = %v, want %v", err, c.err)
				}
				if st.Load() != before {
					t.Fatal("a failed update changed the snapshot")
				}
				var pe *PathError
				if !errors.As(err, &pe) || pe.Path != c.path {
					t.Fatalf("not a *PathError naming the path: %#v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.Lookup(c.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want || ch.New != c.want || ch.Version != 1 || ch.Path != c.path || ch.Kind != Updated {
				t.Fatalf("got %#v, change %+v, want %#v", got, ch, c.want)
			}
			if st.Load().Version() != 1 || before.Version() != 0 {
				t.Fatal("versions")
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	st := open(t, Config[testCfg]{Updatable: []string{"count", "api_key"}, Validate: func(c *testCfg) error {
		if c.APIKey == "hunter2" {
			return errSentinel
		}
		return nil
	}})
	_, err := st.Update("count", "ten")
	var pe *PathError
	if !errors.As(err, &pe) || pe.Want != "int" || pe.Got != "string" || pe.Value != "ten" {
		t.Fatalf("%#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"count"`) || !strings.Contains(msg, "want int, got string") || !strings.Contains(msg, `"ten"`) {
		t.Fatalf("message %q", msg)
	}
	_, err = st.Update("api_key", "hunter2")
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, errSentinel) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("secret: %v", err)
	}
	_, err = st.Update("api_key", 42)
	if !errors.As(err, &pe) || pe.Value != nil || strings.Contains(err.Error(), "42") {
		t.Fatalf("secret value printed: %v", err)
	}
	_, err = st.Update("rate", 1.0)
	if !errors.Is(err, ErrForbidden) {
		t.Fatal(err)
	}
}

func TestLookup(t *testing.T) {
	st := open(t, Config[testCfg]{})
	cases := []struct {
		path string
		want any
		err  error
	}{
		{"count", 10, nil},
		{"mode", mode("balanced"), nil},
		{"timeout", time.Second, nil},
		{"pair", pair{}, nil},
		{"pair.b", int64(0), nil},
		{"nope", nil, ErrPathNotFound},
		{"pair.", nil, ErrPathNotFound},
		{"", nil, ErrPathNotFound},
		{"Count", nil, ErrPathNotFound},
		{"when", nil, ErrPathNotFound},
		{"internal", nil, ErrPathNotFound},
		{strings.Repeat("a", 5000), nil, ErrPathNotFound},
	}
	for _, c := range cases {
		t.Run(truncate(c.path), func(t *testing.T) {
			got, err := st.Lookup(c.path)
			if !errors.Is(err, c.err) || got != c.want {
				t.Fatalf("Lookup = %#v, %v; want %#v, %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestCompareAndUpdateFuncReset(t *testing.T) {
	st := open(t, Config[testCfg]{Validate: validPair})
	if _, err := st.CompareAndUpdate(0, "count", 11); err != nil {
		t.Fatal(err)
	}
	_, err := st.CompareAndUpdate(0, "count", 12)
	var pe *PathError
	if !errors.Is(err, ErrVersionConflict) || !errors.As(err, &pe) || pe.Want != "version 0" || pe.Got != "version 1" {
		t.Fatalf("CAS: %v", err)
	}
	ch, err := st.UpdateFunc(func(c *testCfg) error { c.Pair.A, c.Pair.B = 7, 7; return nil })
	if err != nil || ch.Version != 2 || ch.Path != "" || ch.New.(testCfg).Pair.A != 7 || ch.Old.(testCfg).Pair.A != 0 {
		t.Fatalf("UpdateFunc: %+v %v", ch, err)
	}
	if _, err := st.UpdateFunc(func(c *testCfg) error { c.Pair.A = 8; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := st.UpdateFunc(func(c *testCfg) error { return errSentinel }); err != errSentinel {
		t.Fatal(err)
	}
	ch, err = st.Reset()
	if err != nil || ch.Kind != Reset || ch.Path != "" || ch.Version != 3 || st.Load().Value() != defaults() {
		t.Fatalf("Reset: %+v %v", ch, err)
	}
	if st.Load().Version() != 3 {
		t.Fatal(st.Load().Version())
	}
}

func TestSnapshotImmutable(t *testing.T) {
	type withSlice struct{ Tags []string }
	st, err := Open(withSlice{Tags: []string{"a"}}, Config[withSlice]{Clone: func(w *withSlice) withSlice {
		return withSlice{Tags: append([]string(nil), w.Tags...)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v := st.Load().Value()
	v.Tags[0] = "mutated"
	if st.Load().Ptr().Tags[0] != "a" {
		t.Fatal("Value shares memory with the snapshot")
	}
	if _, err := st.UpdateFunc(func(w *withSlice) error { w.Tags[0] = "b"; return nil }); err != nil {
		t.Fatal(err)
	}
	ch, _ := st.Reset()
	if ch.Old.(withSlice).Tags[0] != "b" || st.Load().Ptr().Tags[0] != "a" {
		t.Fatal("Reset")
	}
}

func TestHandle(t *testing.T) {
	st := open(t, Config[testCfg]{})
	rate, err := Field[testCfg, float64](st, "rate")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Field[testCfg, pair](st, "pair")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Field[testCfg, mode](st, "mode")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Field[testCfg, float32](st, "rate"); !errors.Is(err, ErrTypeMismatch) {
		t.Fatal(err)
	}
	if _, err := Field[testCfg, string](st, "mode"); !errors.Is(err, ErrTypeMismatch) {
		t.Fatal(err)
	}
	if _, err := Field[testCfg, int](st, "nope"); !errors.Is(err, ErrPathNotFound) {
		t.Fatal(err)
	}
	st.Update("rate", 0.125)
	st.Update("pair.b", int16(0))
	s := st.Load()
	if rate.Get(s) != 0.125 || p.Get(s) != (pair{}) || m.Get(s) != "balanced" || rate.Path() != "rate" {
		t.Fatal("Get")
	}
	var zero Handle[testCfg, float64]
	if zero.Get(s) != 0 {
		t.Fatal("zero handle")
	}
}

func TestSubscribe(t *testing.T) {
	st := open(t, Config[testCfg]{})
	all := st.Subscribe(100)
	small := st.Subscribe(1)
	for i := range 5 {
		if _, err := st.Update("count", i); err != nil {
			t.Fatal(err)
		}
	}
	st.Reset()
	for v := uint64(1); v <= 6; v++ {
		ch := <-all.C()
		if ch.Version != v {
			t.Fatalf("version %d, want %d", ch.Version, v)
		}
		if v <= 5 && (ch.Path != "count" || ch.New != int(v-1)) {
			t.Fatalf("change %+v", ch)
		}
		if v == 6 && ch.Kind != Reset {
			t.Fatalf("change %+v", ch)
		}
	}
	if all.Dropped() != 0 || small.Dropped() != 5 {
		t.Fatalf("dropped %d %d", all.Dropped(), small.Dropped())
	}
	if ch := <-small.C(); ch.Version != 1 {
		t.Fatalf("small got %d", ch.Version)
	}
	small.Close()
	small.Close()
	if _, ok := <-small.C(); ok {
		t.Fatal("closed subscription delivered")
	}
	st.Update("count", 1)
	if len(st.subs.Load()) != 1 {
		t.Fatal("subscription not freed")
	}
	st.Close()
	if _, ok := <-all.C(); !ok {
		t.Fatal("buffered change lost on Close")
	}
	if _, ok := <-all.C(); ok {
		t.Fatal("channel open after Close")
	}
	late := st.Subscribe(1)
	if _, ok := <-late.C(); ok {
		t.Fatal("subscription after Close is open")
	}
	late.Close()
}

func TestClosed(t *testing.T) {
	st := open(t, Config[testCfg]{})
	st.Update("count", 3)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { _, err := st.Update("count", 1); return err },
		func() error { _, err := st.CompareAndUpdate(1, "count", 1); return err },
		func() error { _, err := st.UpdateFunc(func(*testCfg) error { return nil }); return err },
		func() error { _, err := st.Reset(); return err },
	} {
		if err := f(); !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	}
	if st.Load().Value().Count != 3 {
		t.Fatal("Load after Close")
	}
}

func TestLayout(t *testing.T) {
	var st Store[testCfg]
	if off := unsafe.Offsetof(st.head); off < 128 {
		t.Fatalf("head at offset %d shares cur's false-sharing range", off)
	}
}

func TestLoadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := open(t, Config[testCfg]{})
	h, _ := Field[testCfg, float64](st, "rate")
	var sink float64
	if n := testing.AllocsPerRun(1000, func() { sink += h.Get(st.Load()) + st.Load().Ptr().Rate }); n != 0 {
		t.Fatalf("Load+Get allocate %v", n)
	}
	_ = sink
}

func TestCheckIsADryRun(t *testing.T) {
	st := open(t, Config[testCfg]{Validate: validPair, Updatable: []string{"rate", "timeout"}})
	sub := st.Subscribe(4)
	defer sub.Close()
	v, err := st.Check("timeout", "2s")
	if err != nil || v != 2*time.Second {
		t.Fatalf("Check(timeout, 2s) = %v, %v", v, err)
	}
	if _, err := st.Check("rate", 1.5); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Check(rate, 1.5): %v, want ErrInvalid", err)
	}
	if _, err := st.Check("count", 3); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Check(count): %v, want ErrForbidden", err)
	}
	if _, err := st.Check("rate", "x"); !errors.Is(err, ErrTypeMismatch) {
		t.Fatalf("Check(rate, \"x\"): %v, want ErrTypeMismatch", err)
	}
	if s := st.Load(); s.Version() != 0 || s.Value() != defaults() {
		t.Fatalf("Check changed the store: version %d", s.Version())
	}
	if len(sub.C()) != 0 {
		t.Fatal("Check announced a change")
	}
	st.Close()
	if _, err := st.Check("rate", 0.2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Check after Close: %v", err)
	}
}

func TestSchema(t *testing.T) {
	sc, err := NewSchema[testCfg]()
	if err != nil {
		t.Fatal(err)
	}
	var v testCfg
	if err := sc.Set(&v, "count", 3.0); err != nil || v.Count != 3 {
		t.Fatalf("Set count = %v, %d", err, v.Count)
	}
	if err := sc.Set(&v, "count", 3.5); !errors.Is(err, ErrTypeMismatch) || v.Count != 3 {
		t.Fatalf("Set count 3.5 = %v, %d", err, v.Count)
	}
	if err := sc.Set(&v, "nope", 1); !errors.Is(err, ErrPathNotFound) {
		t.Fatalf("Set nope = %v", err)
	}
	if err := sc.Set(&v, "pair", 1); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Set pair = %v", err)
	}
	if got, err := sc.Get(&v, "count"); err != nil || got != 3 {
		t.Fatalf("Get count = %v, %v", got, err)
	}
	if _, err := sc.Get(&v, "x.y"); !errors.Is(err, ErrPathNotFound) {
		t.Fatalf("Get x.y = %v", err)
	}
	if fi, ok := sc.Field("pair"); !ok || !fi.Parent {
		t.Fatalf("Field pair = %+v, %v", fi, ok)
	}
	if fi, ok := sc.Field("timeout"); !ok || fi.Parent || fi.Type != reflect.TypeFor[time.Duration]() {
		t.Fatalf("Field timeout = %+v, %v", fi, ok)
	}
	if _, ok := sc.Field("nope"); ok {
		t.Fatal("Field nope found")
	}
	if len(sc.Paths()) == 0 {
		t.Fatal("no paths")
	}
}
