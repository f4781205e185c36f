// Package simfuzz holds the whole-system fuzzer's check: FuzzSim's input replaces the seeded
// random source as the simulator's scheduling and fault decision tape, so coverage feedback
// searches schedules and fault placements, and every invariant of the simulator is checked
// (one input in eight also runs twice and must give the same trace). A failing run is written
// down as a tape that `msgr-sim replay -tape FILE` reproduces.
//
// The native target FuzzSim is in this package's external tests (sim_fuzz_test.go) rather
// than beside package sim: what it tests is the whole system (the messenger, the simulated
// network, the fault injector and every checker) through sim's public Run, not one package,
// and sim's own tests already take most of a minute; its corpus is in testdata/fuzz/FuzzSim
// here. The go-fuzz and libFuzzer entry point FuzzSimGo is in gofuzz.go (gofuzz tag).
package simfuzz
