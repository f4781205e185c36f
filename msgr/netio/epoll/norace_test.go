//go:build linux && !race

package epoll

// raceEnabled reports that the race detector is on.
const raceEnabled = false
