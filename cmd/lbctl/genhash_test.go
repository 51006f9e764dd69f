package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGenhash(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Host", r.Host)
		io.WriteString(w, "OK\n")
	}))
	defer srv.Close()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"genhash", srv.URL + "/health", "--virtualhost", "www.example.com"},
		&out, &errb, env{})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{"HTTP/1.0 200 OK\n", "X-Host: www.example.com\n", "\n\nMD5SUM = d36f8f9425c4a8000ad9c4a97185aca5\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if code := run(context.Background(), []string{"genhash"}, &out, &errb, env{}); code != 2 {
		t.Errorf("no URL: exit %d, want 2", code)
	}
}
