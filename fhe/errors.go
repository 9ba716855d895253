package fhe

import "errors"

// Errors a caller may need to branch on. Every error returned by this
// package wraps one of them (test with errors.Is) with context.
var (
	// ErrInsecureParams: a parameter set exceeds the HE Standard bound on
	// log2(QP) for 128-bit security, or uses a non-standard distribution.
	ErrInsecureParams = errors.New("fhe: parameters are not 128-bit secure")
	// ErrTestOnlyParams: a test-only parameter set was asked for outside a
	// test binary (and without the fhe_testonly build tag).
	ErrTestOnlyParams = errors.New("fhe: test-only parameter set refused in a production build")
	// ErrUnknownParamSet: no parameter set has this name or id.
	ErrUnknownParamSet = errors.New("fhe: unknown parameter set")
	// ErrParamMismatch: objects from different parameter sets or key domains were mixed.
	ErrParamMismatch = errors.New("fhe: parameter set or key domain mismatch")
	// ErrOutOfRange: a value, limit or threshold is outside its quantity's range or window.
	ErrOutOfRange = errors.New("fhe: value out of range")
	// ErrSchema: a schema or batch is empty, too long, or does not match its ciphertext.
	ErrSchema = errors.New("fhe: invalid schema")
	// ErrDecryptRange: a decrypted slot did not round to a valid digit, verdict or flag
	// (wrong key, corrupted ciphertext, or noise beyond the proven bound).
	ErrDecryptRange = errors.New("fhe: decrypted value outside its domain")

	// ErrBadMagic: the encoding does not start with the ImplantFHE magic.
	ErrBadMagic = errors.New("fhe: bad magic")
	// ErrBadVersion: the encoding version is not supported.
	ErrBadVersion = errors.New("fhe: unsupported encoding version")
	// ErrBadKind: the encoding holds another kind of object than expected.
	ErrBadKind = errors.New("fhe: unexpected object kind")
	// ErrTruncated: the encoding is shorter or longer than its header says.
	ErrTruncated = errors.New("fhe: truncated or oversized encoding")
	// ErrMalformed: the payload is structurally invalid (bad level, coefficient ≥ modulus, …).
	ErrMalformed = errors.New("fhe: malformed encoding")

	// ErrEval: the homomorphic evaluation failed (a bug or mismatched keys).
	ErrEval = errors.New("fhe: homomorphic evaluation failed")
)
