package cfgsnap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Directory layout:
//
//	LOCK                     flock'ed while a Store has the directory open
//	snap-<version>.cfg       snapshot at version (20-digit zero-padded)
//	wal-<start>.log          log segment; its first record has version start
//	*.tmp                    a snapshot being written; removed at Open
//	*.corrupt                a file that failed its checks, kept for inspection
//
// A snapshot is written every SnapshotEvery changes: temp file, fsync,
// rename, fsync the directory; then a new segment wal-<v+1>.log is started
// and files older than the previous snapshot are removed, so the newest two
// snapshots and the log since the older one always remain: a corrupt newest
// snapshot falls back to the previous one plus the log, losing nothing.

const (
	snapMagic  = "CFGSNAP1"
	snapHeader = 8 + 8 + 8 + 4 + 4 // magic, version, time, length, crc
	lockName   = "LOCK"
)

func snapName(v uint64) string { return fmt.Sprintf("snap-%020d.cfg", v) }
func segName(v uint64) string  { return fmt.Sprintf("wal-%020d.log", v) }

// listDir returns the snapshot versions and segment starts in dir, sorted
// ascending, and removes leftover temp files.
func listDir(dir string) (snaps, segs []uint64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".tmp"):
			_ = os.Remove(filepath.Join(dir, name))
		case strings.HasPrefix(name, "snap-") && strings.HasSuffix(name, ".cfg"):
			if v, err := strconv.ParseUint(name[5:len(name)-4], 10, 64); err == nil {
				snaps = append(snaps, v)
			}
		case strings.HasPrefix(name, "wal-") && strings.HasSuffix(name, ".log"):
			if v, err := strconv.ParseUint(name[4:len(name)-4], 10, 64); err == nil {
				segs = append(segs, v)
			}
		}
	}
	sort.Slice(snaps, func(i, j int) bool { return snaps[i] < snaps[j] })
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return snaps, segs, nil
}

// lockDir creates dir if missing and takes an exclusive, non-blocking flock
// on dir/LOCK.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &PathError{Op: "open", Path: dir, Err: ErrDir, Cause: err}
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &PathError{Op: "open", Path: dir, Err: ErrDir, Cause: err}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &PathError{Op: "open", Path: dir, Err: ErrLocked}
		}
		return nil, &PathError{Op: "open", Path: dir, Err: ErrDir, Cause: err}
	}
	return f, nil
}

func unlockDir(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// encodeSnapshot returns the file image of a snapshot: magic, version,
// time, payload length, CRC-32C of everything after the magic but the CRC
// itself, then the payload (JSON of T).
func encodeSnapshot(version uint64, unixNano int64, payload []byte) []byte {
	b := make([]byte, snapHeader, snapHeader+len(payload))
	copy(b, snapMagic)
	binary.LittleEndian.PutUint64(b[8:], version)
	binary.LittleEndian.PutUint64(b[16:], uint64(unixNano))
	binary.LittleEndian.PutUint32(b[24:], uint32(len(payload)))
	b = append(b, payload...)
	crc := crc32.Update(crc32.Checksum(b[8:28], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(b[28:], crc)
	return b
}

// decodeSnapshot checks a snapshot file image; errors wrap [ErrCorrupt].
func decodeSnapshot(b []byte) (version uint64, unixNano int64, payload []byte, err error) {
	if len(b) < snapHeader || string(b[:8]) != snapMagic {
		return 0, 0, nil, fmt.Errorf("snapshot header: %w", ErrCorrupt)
	}
	n := binary.LittleEndian.Uint32(b[24:])
	if uint64(len(b)-snapHeader) != uint64(n) {
		return 0, 0, nil, fmt.Errorf("snapshot length %d, have %d: %w", n, len(b)-snapHeader, ErrCorrupt)
	}
	payload = b[snapHeader:]
	crc := crc32.Update(crc32.Checksum(b[8:28], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(b[28:]) {
		return 0, 0, nil, fmt.Errorf("snapshot checksum: %w", ErrCorrupt)
	}
	return binary.LittleEndian.Uint64(b[8:]), int64(binary.LittleEndian.Uint64(b[16:])), payload, nil
}

// writeSnapshotFile writes image durably as dir/snap-<v>.cfg: temp file,
// fsync, rename, fsync dir.
func writeSnapshotFile(dir string, v uint64, image []byte, nosync bool) error {
	final := filepath.Join(dir, snapName(v))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(image)
	if err == nil && !nosync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if nosync {
		return nil
	}
	return syncDir(dir)
}

// quarantine renames a damaged file to <name>.corrupt so later opens skip it.
func quarantine(dir, name string) {
	_ = os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".corrupt"))
}
