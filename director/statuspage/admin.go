package statuspage

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/lvsd/lb/director/control"
)

// Overrider is what the admin actions call: the daemon's method behind
// lbctl drain, undrain and maintenance.
type Overrider interface {
	SetOverride(ctx context.Context, req control.OverrideRequest) (control.OverrideResult, error)
}

// MinTokenLen is the shortest admin token accepted.
const MinTokenLen = 16

// maxForm bounds an action's body.
const maxForm = 4 << 10

// EnableAdmin turns on the admin actions: POST /status with the token
// (form field "token", or "Authorization: Bearer TOKEN") and either
// "op" = "STATE|SERVICE|SERVER" (the page's buttons) or the fields
// "state", "service" and "server"; STATE is drain, maintenance or none
// (undrain). A missing or wrong token is 403; a GET never acts. Without
// this, POST is 405 (read-only). It must be called before serving.
func (h *Handler) EnableAdmin(token string, o Overrider) error {
	token = strings.TrimSpace(token)
	if len(token) < MinTokenLen || strings.ContainsAny(token, " \t\r\n") {
		return errors.New("the admin token must be one word of at least 16 characters")
	}
	h.token, h.admin = []byte(token), o
	h.mux.HandleFunc("POST /status", h.act)
	return nil
}

func (h *Handler) act(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
		return
	}
	tok := r.PostForm.Get("token")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = b
	}
	if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), h.token) != 1 {
		http.Error(w, "missing or wrong admin token", http.StatusForbidden)
		return
	}
	req := control.OverrideRequest{State: r.PostForm.Get("state"), Service: r.PostForm.Get("service"), Server: r.PostForm.Get("server")}
	if op := r.PostForm.Get("op"); op != "" {
		parts := strings.Split(op, "|")
		if len(parts) != 3 {
			http.Error(w, `op must be "STATE|SERVICE|SERVER"`, http.StatusBadRequest)
			return
		}
		req.State, req.Service, req.Server = parts[0], parts[1], parts[2]
	}
	switch req.State {
	case "drain", "maintenance", "none":
	default:
		http.Error(w, "state must be drain, maintenance or none", http.StatusBadRequest)
		return
	}
	if _, err := h.admin.SetOverride(r.Context(), req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, "/status", http.StatusSeeOther)
}
