package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlots writes latency.png and throughput.png of r into r.dir.
func writePlots(r *result) error {
	if err := latencyPlot(r, filepath.Join(r.dir, "latency.png")); err != nil {
		return err
	}
	r.files = append(r.files, "latency.png")
	if err := throughputPlot(r, filepath.Join(r.dir, "throughput.png")); err != nil {
		return err
	}
	r.files = append(r.files, "throughput.png")
	return nil
}

// style is how one series is drawn, the same in both pictures and their
// legends: a colour of a qualitative palette (Tableau 10, the yellow
// darkened to read on white), so that no two operations are shades of one
// hue; a dash pattern; and a marker shape placed along the line, so that
// lines that coincide stay distinguishable.
type style struct {
	color  color.RGBA
	dashed bool
	glyph  draw.GlyphDrawer
}

// opStyles are the operations' styles, in op order; allStyle is the total.
var (
	opStyles = [numOps]style{
		opGet:       {rgb(0x4e79a7), false, draw.CircleGlyph{}},
		opUpdate:    {rgb(0xf28e2b), true, draw.RingGlyph{}},
		opStore:     {rgb(0x59a14f), false, draw.TriangleGlyph{}},
		opQueryType: {rgb(0xb07aa1), true, draw.PyramidGlyph{}},
		opQueryCorr: {rgb(0x9c755f), false, draw.SquareGlyph{}},
		opExecute:   {rgb(0xe15759), true, draw.CrossGlyph{}},
		opCounter:   {rgb(0x76b7b2), false, draw.BoxGlyph{}},
		opHistogram: {rgb(0xb6992d), true, draw.PlusGlyph{}},
	}
	allStyle = style{color: rgb(0x333333)}
)

func rgb(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// markerEvery is how many points of a series lie between two of its
// markers; each operation starts its markers at a different point, so that
// the markers of coinciding lines do not sit on each other.
const markerEvery = 12

// series draws pts in st, with width, into p and adds it to legend under
// name. Markers go on every markerEvery-th point from the offset phase.
func series(p *plot.Plot, legend *plot.Legend, name string, pts plotter.XYs, st style, width vg.Length, phase int) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = st.color
	l.Width = width
	if st.dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	p.Add(l)
	if st.glyph == nil {
		legend.Add(name, l)
		return nil
	}
	var marks plotter.XYs
	for k := phase % markerEvery; k < len(pts); k += markerEvery {
		marks = append(marks, pts[k])
	}
	if len(marks) == 0 {
		marks = append(marks, pts[len(pts)-1])
	}
	s, err := plotter.NewScatter(marks)
	if err != nil {
		return err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: st.color, Radius: vg.Points(3.5), Shape: st.glyph}
	p.Add(s)
	legend.Add(name, l, s)
	return nil
}

// latencyPlot draws, per operation, the latency at each percentile in the
// HDR style: x is 1/(1−q) on a log axis, so 90%, 99%, 99.9% … are evenly
// spaced and the tail gets the room; y is the latency, log too. Each line
// ends at its operation's maximum.
func latencyPlot(r *result, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency by percentile (each line ends at its operation's max)", r.target)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = logTicks(fmtDuration)
	var ticks plot.ConstantTicks
	for _, t := range []struct {
		x     float64
		label string
	}{{1, "0%"}, {2, "50%"}, {10, "90%"}, {100, "99%"}, {1e3, "99.9%"}, {1e4, "99.99%"}, {1e5, "99.999%"}, {1e6, "99.9999%"}} {
		ticks = append(ticks, plot.Tick{Value: t.x, Label: t.label})
	}
	p.X.Tick.Marker = ticks
	legend := plot.NewLegend()
	maxX := 1.0
	n := 0
	for i := range numOps {
		or := &r.ops[i]
		if or.count == 0 {
			continue
		}
		// Up to the resolution of the data: past 1/(1−q) = count, every
		// percentile is the maximum.
		top := math.Min(float64(or.count), 1e6)
		var pts plotter.XYs
		for x := 1.0; x <= top*1.0001; x *= 1.08 {
			q := 100 * (1 - 1/x)
			pts = append(pts, plotter.XY{X: x, Y: math.Max(float64(or.hist.ValueAtQuantile(q)), 1)})
		}
		pts = append(pts, plotter.XY{X: top, Y: math.Max(float64(or.hist.Max()), 1)})
		maxX = math.Max(maxX, top)
		if err := series(p, &legend, op(i).String(), pts, opStyles[i], vg.Points(1.5), int(i)*markerEvery/int(numOps)); err != nil {
			return err
		}
		n++
	}
	p.X.Min, p.X.Max = 1, maxX
	if n == 0 {
		p.Y.Min, p.Y.Max = 1, 1e3
	}
	p.Add(plotter.NewGrid())
	return saveWithLegend(p, legend, path)
}

// throughputPlot draws operations per second over time, in total and per
// operation (log y, so the rare operations show beside the config reads).
func throughputPlot(r *result, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: throughput over time", r.target)
	p.X.Label.Text = "time since start"
	p.Y.Label.Text = "operations per second"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks(siCount)
	p.X.Tick.Marker = plot.TickerFunc(secondTicks)
	legend := plot.NewLegend()
	rates := func(sel func(s sample) uint64) plotter.XYs {
		var pts plotter.XYs
		for k := 1; k < len(r.timeline); k++ {
			a, b := r.timeline[k-1], r.timeline[k]
			dt := (b.at - a.at).Seconds()
			if dt < 0.05 { // skip the last, partial interval: too short to tell a rate
				continue
			}
			if v := float64(sel(b)-sel(a)) / dt; v > 0 {
				pts = append(pts, plotter.XY{X: b.at.Seconds(), Y: v})
			}
		}
		return pts
	}
	total := rates(func(s sample) uint64 {
		var n uint64
		for _, c := range s.counts {
			n += c
		}
		return n
	})
	if err := series(p, &legend, "all", total, allStyle, vg.Points(2.5), 0); err != nil {
		return err
	}
	for i := range numOps {
		pts := rates(func(s sample) uint64 { return s.counts[i] })
		if err := series(p, &legend, op(i).String(), pts, opStyles[i], vg.Points(1.5), int(i)*markerEvery/int(numOps)); err != nil {
			return err
		}
	}
	p.X.Min = 0
	if len(total) == 0 {
		p.Y.Min, p.Y.Max = 1, 10
	}
	p.Add(plotter.NewGrid())
	return saveWithLegend(p, legend, path)
}

// logTicks labels each power of ten of a log axis with format (minor ticks
// between them), so that every axis reads in the tables' units.
func logTicks(format func(float64) string) plot.Ticker {
	return plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var ts []plot.Tick
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			d := math.Pow(10, e)
			if d >= lo && d <= hi {
				ts = append(ts, plot.Tick{Value: d, Label: format(d)})
			}
			for m := 2.0; m < 10; m++ {
				if v := m * d; v >= lo && v <= hi {
					ts = append(ts, plot.Tick{Value: v})
				}
			}
		}
		return ts
	})
}

// secondTicks labels a time axis in seconds at a step of 1, 2 or 5 × 10ⁿ s
// giving at most about ten labels.
func secondTicks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if span <= 0 {
		return []plot.Tick{{Value: lo, Label: fmtSeconds(lo)}}
	}
	step := math.Pow(10, math.Floor(math.Log10(span/10)))
	for _, m := range []float64{1, 2, 5, 10} {
		if span/(m*step) <= 10 {
			step *= m
			break
		}
	}
	var ts []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ts = append(ts, plot.Tick{Value: v, Label: fmtSeconds(v)})
	}
	return ts
}

func fmtSeconds(v float64) string { return fmt.Sprintf("%.3gs", v) }

// fmtDuration formats ns as the tables do.
func fmtDuration(ns float64) string { return fmtNs(int64(ns), 1) }

// saveWithLegend saves p as a PNG with legend in a column to its right, so
// that no line hides behind it.
func saveWithLegend(p *plot.Plot, legend plot.Legend, path string) error {
	const w, h, lw = 24 * vg.Centimeter, 14 * vg.Centimeter, 3.5 * vg.Centimeter
	legend.Top, legend.Left = true, true
	img := vgimg.New(w, h)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -lw, 0, -2*vg.Millimeter)) // room above the title
	lc := draw.Crop(dc, w-lw+vg.Millimeter, 0, 0, -vg.Centimeter)
	legend.Draw(lc)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
