// Package archtest holds the test that keeps the project's import rules,
// the "who may import whom" of docs/ARCHITECTURE.md: it parses the import
// lines of every Go file in the module and fails on a forbidden edge.
package archtest
