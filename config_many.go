package foundation

import (
	"errors"

	"github.com/elixirscope-go/foundation/cfgsnap"
)

// maxReusedMany bounds the slice of changes UpdateMany keeps for the
// next call: a call with more paths allocates its own.
const maxReusedMany = 64

// UpdateMany sets several updatable paths as one change: all of them or
// none. Each value is converted as [ConfigService.Update] says, the whole
// candidate is validated once, and it is published as one version (+1,
// however many paths; durably as one log record with a data dir). Every
// subscriber then receives one [ConfigChange] per path, in path order, all
// with the same Version, and one config_updated event per path is stored;
// foundation.config_updates counts each path. An empty map changes nothing.
//
// Errors are those of Update for the first offending path in sorted order
// (an unknown path matches both [ErrPathNotFound] and [ErrUpdateForbidden]);
// on any error nothing changes.
func (c *ConfigService) UpdateMany(values map[string]any) error {
	if err := c.lockForChange(); err != nil {
		return err
	}
	defer c.mu.Unlock()
	chs, err := c.st.UpdateManyInto(c.many, values)
	if err != nil {
		clear(c.many[:cap(c.many)]) // the refused candidate's values: keep none alive
		path := ""
		var pe *cfgsnap.PathError
		if errors.As(err, &pe) {
			path = pe.Path
		}
		return c.mapError("update", path, values[path], err)
	}
	if len(chs) == 0 {
		return nil
	}
	c.applySettings(c.Get().cfg())
	for i := range chs {
		ch := &chs[i]
		cc := ConfigChange{Kind: Updated, Path: ch.Path, Old: ch.Old, New: ch.New, Version: ch.Version}
		c.changed(&cc, ch.Time.UnixNano())
	}
	clear(chs) // keep no values alive until the next UpdateMany
	if cap(chs) <= maxReusedMany {
		c.many = chs[:0]
	} else {
		c.many = nil
	}
	return nil
}
