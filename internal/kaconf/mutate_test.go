package kaconf

import (
	"errors"
	"math/rand"
	"os"
	"testing"
	"time"
)

// Mutated fixtures (braces, quotes, comments, words and bytes inserted,
// cut and moved) never crash or hang the conversion, and whatever converts
// passes lbd's checks: input the YAML cannot express is reported as
// unmapped or as an error with a line, never turned into a file lbd
// rejects. Deterministic; FuzzConvert explores further.
func TestMutatedInputs(t *testing.T) {
	var seeds [][]byte
	for _, n := range []string{"full.conf", "aliases.conf", "seed-ssl-get.conf", "full.d/10-web.conf", "full.d/20-other.conf"} {
		d, err := os.ReadFile("testdata/" + n)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, d)
	}
	words := []string{"{", "}", "\"", "'", "#", "!", "\\", "\n", " ", "0", "-1", "fwmark", "real_server 1.2.3.4 80 {",
		"2001:db8::1", "TUN", "MASTER", "weight", "include x", "lb_kind", "priority 255", "virtual_ipaddress {", "\u00a0"}
	r := rand.New(rand.NewSource(20261125))
	for i := range 2000 {
		b := append([]byte(nil), seeds[r.Intn(len(seeds))]...)
		for k := r.Intn(6) + 1; k > 0; k-- {
			p := r.Intn(len(b) + 1)
			switch r.Intn(4) {
			case 0:
				b = append(b[:p], append([]byte(words[r.Intn(len(words))]), b[p:]...)...)
			case 1:
				b = append(b[:p], b[min(len(b), p+r.Intn(20)):]...)
			case 2:
				e := min(len(b), p+r.Intn(40))
				seg := append([]byte(nil), b[p:e]...)
				b = append(b[:p], b[e:]...)
				q := r.Intn(len(b) + 1)
				b = append(b[:q], append(seg, b[q:]...)...)
			case 3:
				b = append(b[:p], append([]byte{byte(r.Intn(256))}, b[p:]...)...)
			}
		}
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- errors.New("panic")
				}
			}()
			_, err := Convert("m.conf", b, memFS(nil))
			var errs Errors
			if err != nil && !errors.As(err, &errs) {
				done <- err
				return
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("input %d: %v\n%s", i, err, b)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("input %d: no result after 10s\n%s", i, b)
		}
	}
}
