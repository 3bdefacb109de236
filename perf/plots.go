package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
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

// latencyPlot draws, per operation, the latency at each percentile in the
// HDR style: x is 1/(1−q) on a log axis, so 90%, 99%, 99.9% … are evenly
// spaced and the tail gets the room; y is the latency in µs, log too.
func latencyPlot(r *result, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: latency by percentile", r.target)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (µs)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var ticks plot.ConstantTicks
	for _, t := range []struct {
		x     float64
		label string
	}{{1, ""}, {2, "50%"}, {10, "90%"}, {100, "99%"}, {1e3, "99.9%"}, {1e4, "99.99%"}, {1e5, "99.999%"}, {1e6, "99.9999%"}} {
		ticks = append(ticks, plot.Tick{Value: t.x, Label: t.label})
	}
	p.X.Tick.Marker = ticks
	p.Legend.Top, p.Legend.Left = true, true
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
			v := float64(or.hist.ValueAtQuantile(q)) / 1e3
			pts = append(pts, plotter.XY{X: x, Y: math.Max(v, 1e-3)})
		}
		pts = append(pts, plotter.XY{X: top, Y: math.Max(float64(or.hist.Max())/1e3, 1e-3)})
		maxX = math.Max(maxX, top)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(n)
		l.Dashes = plotutil.Dashes(n / 7)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(op(i).String(), l)
		n++
	}
	p.X.Min, p.X.Max = 1, maxX
	if n == 0 {
		p.Y.Min, p.Y.Max = 1e-3, 1
	}
	p.Add(plotter.NewGrid())
	return p.Save(22*vg.Centimeter, 14*vg.Centimeter, path)
}

// throughputPlot draws operations per second over time, in total and per
// operation (log y, so the rare operations show beside the config reads).
func throughputPlot(r *result, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: throughput over time", r.target)
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "operations per second"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	series := func(sel func(s sample) uint64) plotter.XYs {
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
	total := series(func(s sample) uint64 {
		var n uint64
		for _, c := range s.counts {
			n += c
		}
		return n
	})
	add := func(name string, pts plotter.XYs, n int, width float64) error {
		if len(pts) == 0 {
			return nil
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(n)
		l.Dashes = plotutil.Dashes(n / 7) // dashed once the 7 colors repeat
		l.Width = vg.Points(width)
		p.Add(l)
		legend.Add(name, l)
		return nil
	}
	if err := add("all", total, 0, 2.5); err != nil {
		return err
	}
	for i := range numOps {
		if err := add(op(i).String(), series(func(s sample) uint64 { return s.counts[i] }), int(i)+1, 1); err != nil {
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

// saveWithLegend saves p as a PNG with legend in a column to its right, so
// that no line hides behind it.
func saveWithLegend(p *plot.Plot, legend plot.Legend, path string) error {
	const w, h, lw = 24 * vg.Centimeter, 14 * vg.Centimeter, 3.5 * vg.Centimeter
	img := vgimg.New(w, h)
	dc := draw.New(img)
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
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
