//go:build !fhe_testonly

package fhe

// allowTestOnlyTag is false in production builds: test-only parameter sets
// are usable only inside test binaries.
const allowTestOnlyTag = false
