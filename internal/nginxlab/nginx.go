package nginxlab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// nginxConf is the seed's nginx.conf cut to what the pair needs: an
// upstream of the two backends, round robin, the seed's proxy headers,
// and a header naming the proxy that answered. Every path is the proxy's.
func nginxConf(p *Proxy) string {
	return fmt.Sprintf(`# nginx for proxy %[1]s of the nginx pair lab (the seed's nginx.conf, cut down)
daemon off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path %[2]s/tmp/body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    upstream tomcats {
        server %[3]s:%[5]d;
        server %[4]s:%[5]d;
    }
    server {
        listen 80;
        location / {
            proxy_pass http://tomcats;
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            add_header X-Director %[1]s always;
        }
    }
}
`, p.Name, p.Dir, Web1Addr.Addr(), Web2Addr.Addr(), BackendPort)
}

// NginxComm is the name proxy's nginx runs under (its processes' comm,
// what track_process matches): started through a symbolic link of that
// name, so that a tracker on one proxy never counts the other's nginx.
func NginxComm(proxy string) string { return "nginx-" + proxy }

// StartNginx starts nginx in the foreground in the proxy's namespace, in a
// process group of its own (master and worker), and waits until it accepts
// on port 80.
func (p *Proxy) StartNginx() error {
	if p.nginx != nil && !p.nginx.Exited() {
		return fmt.Errorf("%s: nginx is already running", p.Name)
	}
	if err := os.MkdirAll(filepath.Join(p.Dir, "tmp"), 0o755); err != nil {
		return err
	}
	conf := filepath.Join(p.Dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConf(p)), 0o644); err != nil {
		return err
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		return fmt.Errorf("nginx is needed (apt-get install nginx): %w", err)
	}
	link := filepath.Join(p.Dir, NginxComm(p.Name))
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Symlink(bin, link); err != nil {
		return err
	}
	proc, err := startProc(p.NS, "nginx "+p.Name, true, nil, link, "-p", p.Dir, "-c", conf, "-e", filepath.Join(p.Dir, "error.log"))
	if err != nil {
		return err
	}
	p.nginx = proc
	return waitUntil(10*time.Second, p.Name+": nginx accepting on port 80", func() bool {
		return !proc.Exited() && p.dialLocal(80)
	})
}

// KillNginx kills nginx (master and worker, SIGKILL: a crash) and returns
// when it was sent; it waits until nothing accepts on port 80 any more.
func (p *Proxy) KillNginx() (time.Time, error) {
	if p.nginx == nil || p.nginx.Exited() {
		return time.Time{}, fmt.Errorf("%s: nginx is not running", p.Name)
	}
	at := time.Now()
	if err := syscall.Kill(-p.nginx.Pid(), syscall.SIGKILL); err != nil {
		return at, fmt.Errorf("%s: killing nginx: %w", p.Name, err)
	}
	if err := p.nginx.Wait(5 * time.Second); err != nil {
		return at, err
	}
	return at, waitUntil(5*time.Second, p.Name+": port 80 closed after the kill", func() bool { return !p.dialLocal(80) })
}

// EnsureNginx starts nginx unless it is running.
func (p *Proxy) EnsureNginx() error {
	if p.nginx != nil && !p.nginx.Exited() {
		return nil
	}
	return p.StartNginx()
}
