package foundation

// checkTiers refuses the storage.* settings this build cannot honour, at
// New, rather than accepting them and doing nothing:
//
//   - storage.cold.enable: the cold tier is the configured [Exporter] (it
//     receives every stored event, in batches, and keeps them wherever it
//     writes: a JSON Lines file, a JetStream stream). Enabling it without
//     [WithExporter] is an error matching [ErrConstraint].
//   - storage.warm.enable: the warm tier (package segment, wired through
//     internal/warm) is not yet attached to the event store; enabling it is
//     an error matching [ErrConstraint] until it is.
func checkTiers(cfg *Config, exp Exporter) error {
	if cfg.Storage.Cold.Enable && exp == nil {
		return newError(kConstraint, nil,
			"storage.cold.enable = true: the cold tier is the Exporter, and none was given (use WithExporter)",
			"path", "storage.cold.enable", "value", true)
	}
	if cfg.Storage.Warm.Enable {
		return newError(kConstraint, nil,
			"storage.warm.enable = true: the warm tier is not attached to the event store in this build",
			"path", "storage.warm.enable", "value", true)
	}
	return nil
}
