// Package zklab is test infrastructure: a ZooKeeper ensemble of local nodes
// run from Debian's zookeeper package (java, QuorumPeerMain), each node
// with its own configuration and data directory under the test's temporary
// directory and its own free localhost ports, like the seed's 3-node
// ensemble on one host (3 nodes by default, or 5 to lose two and keep a
// quorum). Nodes can be killed (SIGKILL) and started again. It runs under
// a test (testing.TB) or a benchmark command (any TB).
package zklab

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// TB is what the ensemble needs of its runner: testing.TB has it, and a
// command (a benchmark) gives an adapter of its own (Fatalf must not
// return: a test's ends the test, a command's exits after its cleanups).
type TB interface {
	Helper()
	Logf(format string, a ...any)
	Fatalf(format string, a ...any)
	TempDir() string
	Cleanup(f func())
}

// Debian's jars: zookeeper.jar's manifest names its dependencies;
// slf4j-simple gives its log a binding (to the node's log file).
const (
	zookeeperJar = "/usr/share/java/zookeeper.jar"
	slf4jJar     = "/usr/share/java/slf4j-simple.jar"
	mainClass    = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
)

// Options shape the ensemble. TickMillis bounds the session timeouts the
// servers grant: from 2 to 20 ticks.
type Options struct {
	Nodes      int // default 3; 5 keeps a quorum with two nodes down
	TickMillis int // default 250 (sessions of 0.5-5 s)
}

// Node is one server.
type Node struct {
	ID     int
	Client string // host:port for clients
	dir    string
	cmd    *exec.Cmd
	waited chan struct{}
}

// Ensemble is the running nodes.
type Ensemble struct {
	t     TB
	Nodes []*Node
}

// Available says why the ensemble cannot run here (nil when it can).
func Available() error {
	for _, f := range []string{zookeeperJar, slf4jJar} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s: %w (install Debian's zookeeperd: .ci/deps zookeeperd)", f, err)
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		return fmt.Errorf("java: %w (install Debian's zookeeperd)", err)
	}
	return nil
}

// Start runs an ensemble and waits until every node serves (one leader);
// the test's cleanup kills it. A missing installation fails the test.
func Start(t TB, o Options) *Ensemble {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("zookeeper ensemble: %v", err)
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.TickMillis == 0 {
		o.TickMillis = 250
	}
	ports := freePorts(t, 3*o.Nodes)
	e := &Ensemble{t: t}
	var servers strings.Builder
	for i := range o.Nodes {
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", i+1, ports[3*i+1], ports[3*i+2])
	}
	root := t.TempDir()
	for i := range o.Nodes {
		n := &Node{ID: i + 1, Client: fmt.Sprintf("127.0.0.1:%d", ports[3*i]), dir: filepath.Join(root, fmt.Sprintf("node%d", i+1))}
		writeConfig(t, n, ports[3*i], o.TickMillis, servers.String())
		e.Nodes = append(e.Nodes, n)
	}
	t.Cleanup(e.stopAll)
	for i := range e.Nodes {
		e.StartNode(i)
	}
	e.WaitServing(60*time.Second, e.Nodes...)
	return e
}

func writeConfig(t TB, n *Node, clientPort, tick int, servers string) {
	t.Helper()
	data := filepath.Join(n.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatalf("zookeeper ensemble: %v", err)
	}
	cfg := fmt.Sprintf("tickTime=%d\ninitLimit=40\nsyncLimit=10\ndataDir=%s\nclientPort=%d\n"+
		"clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n%s",
		tick, data, clientPort, servers)
	if err := os.WriteFile(filepath.Join(n.dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatalf("zookeeper ensemble: %v", err)
	}
	if err := os.WriteFile(filepath.Join(data, "myid"), []byte(fmt.Sprintf("%d\n", n.ID)), 0o644); err != nil {
		t.Fatalf("zookeeper ensemble: %v", err)
	}
}

// freePorts returns n localhost ports free a moment ago.
func freePorts(t TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("zookeeper ensemble: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// Servers returns the client addresses (for zk.Connect).
func (e *Ensemble) Servers() []string {
	var s []string
	for _, n := range e.Nodes {
		s = append(s, n.Client)
	}
	return s
}

// StartNode starts node i (0-based) with its data kept; its output goes to
// node<i>/log.
func (e *Ensemble) StartNode(i int) {
	e.t.Helper()
	n := e.Nodes[i]
	log, err := os.OpenFile(filepath.Join(n.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatalf("zookeeper node %d: log: %v", n.ID, err)
	}
	defer log.Close()
	cmd := exec.Command("java", "-Xmx96m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", zookeeperJar+":"+slf4jJar,
		mainClass, filepath.Join(n.dir, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("zookeeper node %d: %v", n.ID, err)
	}
	n.cmd, n.waited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(n.waited) }()
}

// Kill sends node i SIGKILL and waits for it to die.
func (e *Ensemble) Kill(i int) {
	n := e.Nodes[i]
	if n.cmd == nil {
		return
	}
	n.cmd.Process.Kill()
	<-n.waited
	n.cmd = nil
}

func (e *Ensemble) stopAll() {
	for i := range e.Nodes {
		e.Kill(i)
	}
}

// Mode asks node i's "srvr" command for its role: leader, follower,
// standalone; an error when it does not serve.
func (e *Ensemble) Mode(i int) (string, error) {
	c, err := net.DialTimeout("tcp", e.Nodes[i].Client, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return "", err
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "Mode: "); ok {
			return m, nil
		}
	}
	return "", fmt.Errorf("node %d: no Mode in srvr's answer (%v)", e.Nodes[i].ID, sc.Err())
}

// Leader returns the index of the leader, -1 when none serves.
func (e *Ensemble) Leader() int {
	for i, n := range e.Nodes {
		if n.cmd == nil {
			continue
		}
		if m, err := e.Mode(i); err == nil && m == "leader" {
			return i
		}
	}
	return -1
}

// Follower returns the index of a running node that answers as a
// follower, -1 when none does.
func (e *Ensemble) Follower() int {
	for i, n := range e.Nodes {
		if n.cmd == nil {
			continue
		}
		if m, err := e.Mode(i); err == nil && m == "follower" {
			return i
		}
	}
	return -1
}

// Running returns the nodes not killed.
func (e *Ensemble) Running() []*Node {
	var r []*Node
	for _, n := range e.Nodes {
		if n.cmd != nil {
			r = append(r, n)
		}
	}
	return r
}

// WaitServing waits until every node given answers as leader or
// follower; it fails the test with the nodes' logs' tails otherwise.
func (e *Ensemble) WaitServing(timeout time.Duration, nodes ...*Node) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ready := 0
		for _, n := range nodes {
			if m, err := e.Mode(n.ID - 1); err == nil && (m == "leader" || m == "follower") {
				ready++
			}
		}
		if ready == len(nodes) {
			return
		}
		if time.Now().After(deadline) {
			for _, n := range nodes {
				b, _ := os.ReadFile(filepath.Join(n.dir, "log"))
				e.t.Logf("node %d log tail:\n%s", n.ID, tail(string(b), 2000))
			}
			e.t.Fatalf("zookeeper ensemble: %d of %d nodes serving after %v", ready, len(nodes), timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
