package foundation

import (
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/metrics"
)

// TestConfigDocCatalogue keeps docs/config.md true to the schema: every leaf
// key of Config is a row of its key table, once, with its DefaultConfig
// value as the default, "yes" under runtime exactly for the updatable keys,
// and a "read by" entry; and the table lists no key the schema lacks.
func TestConfigDocCatalogue(t *testing.T) {
	data, err := os.ReadFile("docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ typ, def, rule, runtime, readBy string }
	rows := map[string]row{}
	for i, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 6 {
			continue // another table (the bounds)
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		key := strings.Trim(cells[0], "`")
		if _, dup := rows[key]; dup {
			t.Errorf("docs/config.md:%d: %s listed twice", i+1, key)
		}
		rows[key] = row{cells[1], cells[2], cells[3], cells[4], cells[5]}
	}

	leaves := map[string]reflect.Value{}
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := 0; i < v.NumField(); i++ {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("cfg"), ",")
			if name == "" {
				t.Fatalf("%s field %s has no cfg tag", prefix, v.Type().Field(i).Name)
			}
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct {
				walk(fv, prefix+name+".")
				continue
			}
			leaves[prefix+name] = fv
		}
	}
	walk(reflect.ValueOf(DefaultConfig()), "")
	if len(leaves) < 30 {
		t.Fatalf("found %d leaves; the walk is broken", len(leaves))
	}

	for key, v := range leaves {
		r, ok := rows[key]
		if !ok {
			t.Errorf("docs/config.md does not list %s", key)
			continue
		}
		if r.readBy == "" {
			t.Errorf("docs/config.md: %s has no \"read by\" entry", key)
		}
		if want := slices.Contains(updatablePaths, key); (r.runtime == "yes") != want || (r.runtime != "yes" && r.runtime != "no") {
			t.Errorf("docs/config.md: %s runtime %q, updatable is %v", key, r.runtime, want)
		}
		if !docDefaultIs(r.def, v) {
			t.Errorf("docs/config.md: %s default %s, DefaultConfig has %v", key, r.def, v.Interface())
		}
	}
	for key := range rows {
		if _, ok := leaves[key]; !ok {
			t.Errorf("docs/config.md lists %s, which the schema lacks", key)
		}
	}
}

// docDefaultIs reports whether the table's default cell (in backquotes;
// strings quoted, integers maybe with thousands separators) is v.
func docDefaultIs(cell string, v reflect.Value) bool {
	s := strings.Trim(cell, "`")
	if d, ok := v.Interface().(time.Duration); ok {
		got, err := time.ParseDuration(s)
		return err == nil && got == d
	}
	switch v.Kind() {
	case reflect.String:
		if v.Type() == reflect.TypeOf("") || v.Type() == reflect.TypeOf(Secret("")) {
			u, err := strconv.Unquote(s)
			return err == nil && u == v.String()
		}
		return s == v.String() // an enum, unquoted
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.NewReplacer(",", "", "_", "").Replace(s), 10, 64)
		return err == nil && n == v.Int()
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		return err == nil && f == v.Float()
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		return err == nil && b == v.Bool()
	}
	return false
}

// TestDocsNameTheCaps keeps docs/events.md and docs/telemetry.md true to the
// code for what a test can check by name: every built-in metric of a fresh
// Foundation is listed in telemetry.md, and the caps' values appear in the
// page that documents them.
func TestDocsNameTheCaps(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	events, telem := read("docs/events.md"), read("docs/telemetry.md")

	f, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for name := range f.Telemetry().Metrics().Counters {
		if strings.HasPrefix(name, "foundation.") {
			n++
			if !strings.Contains(telem, "| `"+name+"` |") {
				t.Errorf("docs/telemetry.md's built-in metrics lack %s", name)
			}
		}
	}
	if n < 10 {
		t.Errorf("%d built-in counters; the snapshot is broken", n)
	}

	for _, c := range []struct {
		page, doc, what string
		v               int64
	}{
		{events, "events.md", "DefaultSubscriptionBuffer", DefaultSubscriptionBuffer},
		{events, "events.md", "MaxSubscriptionBuffer", MaxSubscriptionBuffer},
		{events, "events.md", "exportGrace (ms)", exportGrace.Milliseconds()},
		{events, "events.md", "exportMaxBackoff (s)", int64(exportMaxBackoff.Seconds())},
		{telem, "telemetry.md", "metrics.DefaultMaxMetrics", metrics.DefaultMaxMetrics},
		{telem, "telemetry.md", "metrics.DefaultMaxSeries", metrics.DefaultMaxSeries},
		{telem, "telemetry.md", "metrics.MaxTags", metrics.MaxTags},
	} {
		if s := thousands(c.v); !strings.Contains(c.page, s) {
			t.Errorf("docs/%s does not state %s = %s", c.doc, c.what, s)
		}
	}
}

// thousands formats v with comma separators (65,536).
func thousands(v int64) string {
	s := strconv.FormatInt(v, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
