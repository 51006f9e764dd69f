package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// benchBody is what the benchmark server answers; both checkers are
// configured with its MD5.
const benchBody = "hello, world\n"

// serve is the benchmark's HTTP server, run in a child process so that
// its CPU is not counted as the checker's. It listens on 0.0.0.0 (so it
// answers on every 127.x.y.z), prints "PORT n", then answers "count"
// lines on stdin with "COUNT n" (requests served so far).
func serve() error {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	var served atomic.Int64
	resp := []byte(fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(benchBody), benchBody))
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
			go func() {
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
			}()
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
