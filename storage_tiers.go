package foundation

// checkTiers refuses the storage.* settings this build cannot honour, at
// New, rather than accepting them and doing nothing:
//
//   - storage.cold.enable: the cold tier is the configured [Exporter] (it
//     receives every stored event, in batches, and keeps them wherever it
//     writes: a JSON Lines file, a JetStream stream). Enabling it without
//     [WithExporter] is an error matching [ErrConstraint].
//
// storage.warm.* is the warm tier ([WarmStats], events_warm.go).
func checkTiers(cfg *Config, exp Exporter) error {
	if cfg.Storage.Cold.Enable && exp == nil {
		return newError(kConstraint, nil,
			"storage.cold.enable = true: the cold tier is the Exporter, and none was given (use WithExporter)",
			"path", "storage.cold.enable", "value", true)
	}
	return nil
}
