// Package e2e holds end-to-end tests that run the real implant binary as a
// process: the crash test kills it at random points of a scripted run and
// checks what survives.
package e2e
