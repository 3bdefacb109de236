package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// recover loads the directory into l: the low-water mark, every segment
// (by its index, else by scanning and repairing it), then reclaims what the
// mark and MaxBytes allow. Damage is repaired and reported in l.recovery;
// only I/O errors and files that are not regular fail.
func (l *Log) recover() error {
	rec := &l.recovery
	problem := func(format string, args ...any) { rec.Problems = append(rec.Problems, fmt.Sprintf(format, args...)) }
	dirErr := func(name string, err error) error {
		return fmt.Errorf("%w: %s: %w", ErrDir, filepath.Join(l.dir, name), err)
	}
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return dirErr("", err)
	}
	var firsts []uint64
	idx := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"):
			_ = l.fs.Remove(filepath.Join(l.dir, name))
		case strings.HasSuffix(name, segExt):
			if v, ok := parseSegName(name); ok {
				if !e.Type().IsRegular() {
					return dirErr(name, errNotRegular)
				}
				firsts = append(firsts, v)
			}
		case strings.HasSuffix(name, idxExt):
			idx[name] = true
		}
	}
	slices.Sort(firsts)

	if b, err := l.readSmall(lowName); err == nil {
		if l.lowSeq, l.lowTime, err = decodeLow(b); err != nil {
			problem("%s: %v; set aside, nothing is hidden", lowName, err)
			l.setAside(lowName)
			l.lowSeq, l.lowTime = 0, 0
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return dirErr(lowName, err)
	}

	for i, first := range firsts {
		last := i == len(firsts)-1
		name := segFile(first)
		delete(idx, strings.TrimSuffix(name, segExt)+idxExt)
		s, err := l.load(first, last)
		if err != nil {
			return err
		}
		if s == nil {
			continue
		}
		if n := len(l.segs); n > 0 && len(s.blocks) > 0 {
			prev := l.segs[n-1]
			if pb := prev.blocks; len(pb) > 0 && s.blocks[0].firstSeq < pb[len(pb)-1].endSeq() {
				problem("%s: starts at sequence %d, inside %s; set aside", name, s.blocks[0].firstSeq, filepath.Base(prev.path))
				s.release()
				l.setAside(name)
				_ = l.fs.Remove(s.idxPath())
				continue
			}
		}
		l.segs = append(l.segs, s)
	}
	for name := range idx {
		_ = l.fs.Remove(filepath.Join(l.dir, name))
	}
	for _, s := range l.segs {
		l.nextSeq = max(l.nextSeq, s.first)
		if len(s.blocks) > 0 {
			l.nextSeq = max(l.nextSeq, s.blocks[len(s.blocks)-1].endSeq())
		}
	}
	l.nextSeq = max(l.nextSeq, l.lowSeq)
	l.w.reset(l.nextSeq)
	l.reclaim()
	l.enforceSize()
	return nil
}

func (l *Log) readSmall(name string) ([]byte, error) {
	f, err := l.fs.OpenFile(filepath.Join(l.dir, name), os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, lowSize+1)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}

// setAside renames dir/name to dir/name.corrupt (name.1.corrupt, ... if
// taken).
func (l *Log) setAside(name string) string {
	to := name + ".corrupt"
	for i := 1; ; i++ {
		if _, err := os.Lstat(filepath.Join(l.dir, to)); errors.Is(err, fs.ErrNotExist) {
			break
		}
		to = fmt.Sprintf("%s.%d.corrupt", name, i)
	}
	if err := l.fs.Rename(filepath.Join(l.dir, name), filepath.Join(l.dir, to)); err != nil {
		l.recovery.Problems = append(l.recovery.Problems, fmt.Sprintf("%s: could not set aside: %v", name, err))
		return name
	}
	return to
}

// load opens one segment. A valid index is trusted; otherwise the file is
// scanned, a torn tail cut, a damaged middle repaired by copying the intact
// blocks, and (unless it is the last segment, which stays active) a new
// index written. It returns nil for an empty segment that is not the last.
func (l *Log) load(first uint64, last bool) (*segment, error) {
	rec := &l.recovery
	name := segFile(first)
	path := filepath.Join(l.dir, name)
	f, err := l.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, path, err)
	}
	s := &segment{first: first, path: path, f: f, size: st.Size()}
	s.refs.Store(1)
	if blocks, foff, flen, fcrc, err := readIndex(l.fs, s.idxPath(), s.size); err == nil {
		s.blocks, s.sealed = blocks, true
		s.filterOff, s.filterLen, s.filterCRC = foff, flen, fcrc
		s.idxSize = indexHeader + int64(len(blocks))*entrySize + flen
		for i := range blocks {
			s.records += int64(blocks[i].count)
			s.raw += int64(blocks[i].rawLen)
		}
		return s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		rec.Problems = append(rec.Problems, fmt.Sprintf("%s: index: %v; rebuilt", name, err))
		rec.RebuiltIndexes++
	} else if !last {
		rec.RebuiltIndexes++
	}
	_ = l.fs.Remove(s.idxPath())

	sc, err := scanFile(f, s.size)
	if err != nil {
		s.release()
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, path, err)
	}
	switch {
	case len(sc.damage) == 0:
	case sc.tornAt >= 0 && len(sc.damage) == 1:
		// Only a torn tail: cut it.
		rec.TornBytes += s.size - sc.tornAt
		rec.Problems = append(rec.Problems, fmt.Sprintf("%s: torn tail of %d bytes at %d cut", name, s.size-sc.tornAt, sc.tornAt))
		if err := f.Truncate(sc.tornAt); err != nil {
			s.release()
			return nil, fmt.Errorf("%w: cut %s: %w", ErrDir, path, err)
		}
		if !l.cfg.NoSync {
			_ = f.Sync()
		}
		s.size = sc.tornAt
	default:
		// Damage before intact data: keep the original as .corrupt and
		// rewrite the intact blocks under the segment's name.
		for _, d := range sc.damage {
			rec.LostBytes += d[1] - d[0]
			rec.Problems = append(rec.Problems, fmt.Sprintf("%s: bytes [%d, %d) unreadable", name, d[0], d[1]))
		}
		ns, err := l.salvage(s, sc.blocks)
		if err != nil {
			return nil, err
		}
		s = ns
		sc.blocks = s.blocks
	}
	s.blocks = sc.blocks
	for i := range s.blocks {
		s.records += int64(s.blocks[i].count)
		s.raw += int64(s.blocks[i].rawLen)
	}
	if len(s.blocks) == 0 && !last {
		s.release()
		_ = l.fs.Remove(path)
		return nil, nil
	}
	filters, err := readFilters(s.f, s.blocks)
	if err != nil {
		s.release()
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, path, err)
	}
	s.filters = filters
	if !last {
		if err := l.seal(s); err != nil {
			rec.Problems = append(rec.Problems, fmt.Sprintf("%s: %v", name, err))
			s.sealed = true // served from memory; the index is rebuilt at the next open
		}
	}
	return s, nil
}

// salvage copies blocks of s into a fresh file, sets the original aside as
// .corrupt and puts the copy in its place.
func (l *Log) salvage(s *segment, blocks []blockInfo) (*segment, error) {
	name := filepath.Base(s.path)
	tmp := s.path + ".salvage.tmp"
	_ = l.fs.Remove(tmp)
	out, err := l.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		s.release()
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, tmp, err)
	}
	fail := func(err error) (*segment, error) {
		out.Close()
		_ = l.fs.Remove(tmp)
		s.release()
		return nil, fmt.Errorf("%w: salvage %s: %w", ErrDir, s.path, err)
	}
	var off int64
	kept := make([]blockInfo, 0, len(blocks))
	buf := []byte(nil)
	for _, b := range blocks {
		buf = slices.Grow(buf[:0], int(b.size))[:b.size]
		if _, err := s.f.ReadAt(buf, b.off); err != nil {
			return fail(err)
		}
		if _, err := out.WriteAt(buf, off); err != nil {
			return fail(err)
		}
		b.off = off
		off += int64(b.size)
		kept = append(kept, b)
	}
	if !l.cfg.NoSync {
		if err := out.Sync(); err != nil {
			return fail(err)
		}
	}
	s.release()
	to := l.setAside(name)
	if to == name {
		out.Close()
		_ = l.fs.Remove(tmp)
		return nil, fmt.Errorf("%w: %s could not be set aside", ErrDir, s.path)
	}
	l.recovery.CorruptFiles = append(l.recovery.CorruptFiles, to)
	if err := l.fs.Rename(tmp, s.path); err != nil {
		out.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrDir, s.path, err)
	}
	if !l.cfg.NoSync {
		_ = l.fs.SyncDir(l.dir)
	}
	ns := &segment{first: s.first, path: s.path, f: out, size: off, blocks: kept}
	ns.refs.Store(1)
	return ns, nil
}

// scan is what scanFile found: the intact blocks in file order, the damaged
// byte ranges, and where a torn tail starts (-1: none).
type scan struct {
	blocks []blockInfo
	damage [][2]int64
	tornAt int64
}

// scanFile checks every block of f (size bytes), reading one block at a
// time. After a bad block it searches forward, a chunk at a time, for the
// next block that passes its checks and starts at a sequence above the last
// intact one.
func scanFile(f file, size int64) (scan, error) {
	sc := scan{tornAt: -1}
	var hdr [headerSize]byte
	var body []byte
	nextSeq := uint64(0)
	// valid reports whether an intact block starts at at.
	valid := func(at int64) (blockHeader, bool, error) {
		if size-at < headerSize {
			return blockHeader{}, false, nil
		}
		if _, err := f.ReadAt(hdr[:], at); err != nil {
			return blockHeader{}, false, err
		}
		h, err := parseHeader(hdr[:])
		if err != nil || at+h.size() > size || h.firstSeq < nextSeq {
			return h, false, nil
		}
		body = slices.Grow(body[:0], int(h.size()))[:h.size()]
		if _, err := f.ReadAt(body, at); err != nil {
			return h, false, err
		}
		_, _, err = checkBody(&h, body)
		return h, err == nil, nil
	}
	const chunk = 1 << 20
	buf := make([]byte, chunk+len(blockMagic)-1)
	var off int64
	for off < size {
		h, ok, err := valid(off)
		if err != nil {
			return sc, err
		}
		if ok {
			sc.blocks = append(sc.blocks, infoOf(off, &h))
			nextSeq = h.firstSeq + uint64(h.count)
			off += h.size()
			continue
		}
		// Damage at off: find the next intact block.
		next := size
	search:
		for p := off + 1; p < size; p += chunk {
			n := int(min(int64(len(buf)), size-p))
			if _, err := f.ReadAt(buf[:n], p); err != nil && err != io.EOF {
				return sc, err
			}
			for i := 0; i < n; {
				j := bytes.Index(buf[i:n], []byte(blockMagic))
				if j < 0 || i+j >= chunk {
					break
				}
				_, ok, err := valid(p + int64(i+j))
				if err != nil {
					return sc, err
				}
				if ok {
					next = p + int64(i+j)
					break search
				}
				i += j + 1
			}
		}
		sc.damage = append(sc.damage, [2]int64{off, next})
		if next == size {
			sc.tornAt = off
		}
		off = next
	}
	return sc, nil
}

// readFilters reads the filter of every block from f into one area.
func readFilters(f file, blocks []blockInfo) ([]byte, error) {
	n := 0
	for i := range blocks {
		n += int(blocks[i].filterLen)
	}
	out := make([]byte, 0, n)
	for i := range blocks {
		b := &blocks[i]
		start := len(out)
		out = out[:start+int(b.filterLen)]
		if _, err := f.ReadAt(out[start:], b.off+headerSize); err != nil {
			return nil, err
		}
	}
	return out, nil
}
