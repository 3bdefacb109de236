package bench

import (
	"io/fs"
	"path/filepath"
)

// walk calls f with the size of every regular file under dir.
func walk(dir string, f func(size int64)) error {
	return filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if fi, err := d.Info(); err == nil {
			f(fi.Size())
		}
		return nil
	})
}
