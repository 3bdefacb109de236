//go:build race

package foundation_test

const raceEnabled = true
