package redistest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStartRestartKill(t *testing.T) {
	s := Start(t, "--appendonly", "yes")
	if err := Ping(s.Addr); err != nil {
		t.Fatal(err)
	}
	if _, err := command(s.Addr, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if v, err := command(s.Addr, "GET", "k"); err != nil || v != "v" {
		t.Fatalf("after restart with AOF: %q, %v", v, err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "redis.log")); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := Ping(s.Addr); err == nil {
		t.Fatal("server still answers after Kill")
	}
	s.Kill() // idempotent
}

func TestStartCluster(t *testing.T) {
	c := StartCluster(t, 3)
	if len(c.Addrs) != 3 {
		t.Fatalf("addrs %v", c.Addrs)
	}
	info, err := command(c.Addrs[0], "CLUSTER", "INFO")
	if err != nil || !strings.Contains(info, "cluster_known_nodes:3") {
		t.Fatalf("cluster info %q, %v", info, err)
	}
}
