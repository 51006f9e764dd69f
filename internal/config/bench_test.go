package config

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParseDirectorLarge parses a config of 1,000 services x 10 real
// servers, each with an HTTP check (the size the IPVS benchmark uses).
func BenchmarkParseDirectorLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("virtual_servers:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "  - address: 10.%d.%d.1\n    port: 80\n    scheduler: wrr\n    delay_loop: 6\n    real_servers:\n", i/256, i%256)
		for j := range 10 {
			fmt.Fprintf(&sb, "      - address: 172.16.%d.%d\n        weight: %d\n        checks:\n          - type: http\n            urls: [{path: /health, digest: d36f8f9425c4a8000ad9c4a97185aca5}]\n", i%256, j+1, j+1)
		}
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseDirector("big.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
