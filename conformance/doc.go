// Package conformance is the auditor's view of the project: the requirement
// catalogue (requirements*.json: ID, text, source, spec invariant, kernel
// checks, tests, verification method), the evidence gathered for each
// requirement (the named tests run through the mock HAL, the built firmware
// checked over its wire protocol, the model check), and the report that
// lays it out as a traceability matrix in Markdown and static HTML.
//
// It never decides what a requirement means: a requirement passes when
// every piece of evidence named for it ran and passed, fails when any
// failed, and is untested when nothing ran for it.
package conformance
