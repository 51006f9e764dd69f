// Package archtest holds the tests that keep the shape of the code: the
// import rules of docs/ARCHITECTURE.md ("who may import whom", checked on
// the import lines of every Go file of the module) and the size of
// functions (go/ast over non-test code).
package archtest
