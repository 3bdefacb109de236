//go:build !race

package cfgsnap

const raceEnabled = false
