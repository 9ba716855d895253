// Command compare proves that the homomorphic comparisons of package fhe
// decide exactly, for every production parameter set and every compared
// quantity, at every quantized point of the domain.
//
// Two checks, one line each per set and quantity:
//
//   - bound: the composite sign polynomial is evaluated in 256-bit big.Float
//     at every input the circuit can see ((D ± 1/2)/128 for every digit
//     difference D). An input noise of δ_in and a per-stage CKKS noise of
//     δ_stage are propagated through each polynomial with the Chebyshev
//     derivative bound |p(z) − p(x)| ≤ |z − x|·Σ|c_k|·k²·ρ^(k−1) (ρ bounds
//     the Bernstein ellipse of the noise disc, so complex noise is covered),
//     then through the digit combination by interval arithmetic. The
//     distance of the result from the rounding threshold must exceed the
//     polynomial error plus the propagated noise.
//   - encrypted: the same circuit under real encryption at the production
//     parameters on every digit-difference pair (every (value, limit) pair
//     of the quantity reaches the circuit as one of them); 0 wrong verdicts
//     are required, and the observed error must stay below the bound.
//
// It exits non-zero on any failure. It must never be run with test-only
// parameter sets standing in for production ones.
package main
