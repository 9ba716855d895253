//go:build fhe_testonly

package fhe

// allowTestOnlyTag lets a non-test binary (e.g. cmd/fhebench built with
// -tags fhe_testonly) use test-only parameter sets.
const allowTestOnlyTag = true
