//go:build !race

package foundation

const raceOn = false
