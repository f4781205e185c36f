// Package prototest is the test Host of proto.Conn and the world it lives in: messengers with
// an identity, policies, throttles, a global_seq counter, an auth verdict and a registry;
// named connections, each with its Node as Host; explicit sockets with a byte buffer in flight
// per direction; a virtual clock; and a log of everything the cores do, as text lines.
//
// It is shared by everything that drives a Conn without package msgr: the golden transcripts
// (msgr/proto's TestInteraction), the rapid state-machine test (TestConnLifecycle), the
// protocol tests and benchmarks, and the fuzz harnesses (fuzz/protofuzz), like etcd raft's
// rafttest. A World is single-threaded and deterministic: the same calls give the same log.
//
// Production code never imports it (internal/lint checks).
//
// The parts:
//
//   - World: the clock (Now, Advance, NextDue), the log (Logf, Output; Quiet turns it off),
//     work posted from one connection to another (Post, Drain), what the Hosts saw (Faults,
//     Problems, States and Rules reached), and two hooks: Tap sees every byte written or
//     injected on a socket (the transcripts render frames from it), Watch sees every Host
//     callback first (the fuzzers check properties there).
//   - Msgr: a messenger as one connection sees it (NewMsgr).
//   - Node: a named connection and its proto.Host (NewConnector, NewAcceptor), with what it
//     delivered and the events it reported.
//   - Socket: one TCP connection between two Nodes, or between a Node and a scripted peer
//     (Connect, Accept, Write, Inject, Read, CloseEnd, Cut).
//   - Replaces: a lossless replace decided on a new connection is kept as a Handover and
//     carried out as msgr does (CarryOut, CarryOutAll); Stabilize moves bytes and carries out
//     replaces until nothing moves.
//   - Recycler: a Node that lends the connection memory (proto.Buffers) and recycles every
//     delivered message, for allocation tests and benchmarks.
package prototest
