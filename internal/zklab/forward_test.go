package zklab

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// The forwarder relays both ways; Pause cuts a relayed connection and
// refuses new ones; Resume lets them through; Close ends it.
func TestForwarder(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); bufio.NewReader(c).WriteTo(c) }()
		}
	}()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := Forward(l, echo.Addr().String())
	ping := func() error {
		c, err := net.Dial("tcp", f.Addr())
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		_, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	if err := ping(); err != nil {
		t.Fatalf("through the forwarder: %v", err)
	}
	held, err := net.Dial("tcp", f.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	held.Write([]byte("x\n"))
	bufio.NewReader(held).ReadString('\n')
	f.Pause()
	held.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := held.Read(make([]byte, 1)); err == nil {
		t.Error("a relayed connection survived Pause")
	}
	if err := ping(); err == nil {
		t.Error("a new connection got through while paused")
	}
	f.Resume()
	if err := ping(); err != nil {
		t.Errorf("after Resume: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
}
