// Package scenarios holds the testbed scenarios: top-level tests named
// TestScenario<Name>, in _test.go files with the build tag testbed_guest.
// They run inside the testbed VM as root, on a real kernel with IPVS, and
// build their networks with internal/netnslab. The host runs them through
// "go test -tags testbed ./e2e" (TestTestbed) or "go run ./e2e/cmd/testbed".
// See e2e/README.md.
package scenarios
