package benchkit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"time"
)

// ServeArg is the argument a benchmark command recognizes as "run the
// server instead" (os.Args[1]): StartServer runs the command's own
// executable with it, and the command then calls Serve.
const ServeArg = "-serve"

// Body is what the server answers on every path; the checkers are
// configured with its MD5.
const Body = "hello, world\n"

// Serve is the benchmark's HTTP server, run in a child process. It
// listens on 0.0.0.0 (so it answers on every 127.x.y.z), prints "PORT n",
// then answers "count" lines on stdin with "COUNT n" (requests served so
// far), until stdin closes.
func Serve() error {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var served atomic.Int64
	resp := []byte(fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(Body), Body))
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				// EMFILE and friends: the checker holds many sockets open.
				time.Sleep(5 * time.Millisecond)
				continue
			}
			go answer(c, resp, &served)
		}
	}()
	fmt.Printf("PORT %d\n", l.Addr().(*net.TCPAddr).Port)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("COUNT %d\n", served.Load())
	}
	if err := in.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("read stdin: %w", err)
	}
	return nil
}

// answer reads one request's head and writes resp.
func answer(c net.Conn, resp []byte, served *atomic.Int64) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1024)
	n := 0
	for n < len(buf) {
		k, err := c.Read(buf[n:])
		n += k
		if bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			break
		}
		if err != nil {
			return
		}
	}
	if _, err := c.Write(resp); err == nil {
		served.Add(1)
	}
}

// Server is the child process running Serve.
type Server struct {
	cmd  *exec.Cmd
	in   *os.File
	out  *bufio.Scanner
	Port int
}

// StartServer runs this executable with ServeArg and reads its port.
func StartServer() (*Server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(self, ServeArg)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	s := &Server{cmd: cmd, in: stdin.(*os.File), out: bufio.NewScanner(stdout)}
	if !s.out.Scan() {
		s.Stop()
		return nil, fmt.Errorf("server gave no port: %v", s.out.Err())
	}
	if _, err := fmt.Sscanf(s.out.Text(), "PORT %d", &s.Port); err != nil {
		s.Stop()
		return nil, fmt.Errorf("server said %q: %w", s.out.Text(), err)
	}
	return s, nil
}

// Pid is the server process's.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Served is the number of requests the server has answered.
func (s *Server) Served() (int64, error) {
	if _, err := fmt.Fprintln(s.in, "count"); err != nil {
		return 0, fmt.Errorf("ask server: %w", err)
	}
	if !s.out.Scan() {
		return 0, fmt.Errorf("server gone: %v", s.out.Err())
	}
	var n int64
	if _, err := fmt.Sscanf(s.out.Text(), "COUNT %d", &n); err != nil {
		return 0, fmt.Errorf("server said %q: %w", s.out.Text(), err)
	}
	return n, nil
}

// Stop ends the server.
func (s *Server) Stop() {
	_ = s.in.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}
