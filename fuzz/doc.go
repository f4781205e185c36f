// Package fuzz holds the whole-system fuzzers: targets where the fuzzer's input replaces the
// seeded random source as the simulator's scheduling and fault decision tape, so coverage
// feedback searches schedules. Package-local fuzz targets (decoders, the protocol core) live
// beside their code.
package fuzz
