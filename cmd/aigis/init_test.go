package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMain lets the test binary stop right after package initialisation,
// so TestInitCost can read what every package's init cost.
func TestMain(m *testing.M) {
	if os.Getenv("AIGIS_INIT_ONLY") == "1" {
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Every aigis command pays every linked package's init. Bytes allocated
// there are deterministic where time is not: no package of ours may
// allocate more than 256 KB at init (a password hash computed at start once
// cost every command 60 ms and 20 MB), and all packages together stay
// under a budget that catches a heavy dependency linked by accident.
func TestInitCost(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "AIGIS_INIT_ONLY=1", "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^init (\S+) @\S+ ms, (\S+) ms clock, (\d+) bytes, (\d+) allocs$`)
	var total int64
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		n++
		b, _ := strconv.ParseInt(m[3], 10, 64)
		total += b
		if strings.HasPrefix(m[1], "github.com/aigis-dev/aigis") && b > 256<<10 {
			t.Errorf("package %s allocates %d bytes at init; make it lazy (sync.OnceValue)", m[1], b)
		}
	}
	if n < 50 {
		t.Fatalf("inittrace gave %d lines; is GODEBUG honoured?\n%.2000s", n, out)
	}
	const budget = 16 << 20
	if total > budget {
		t.Errorf("package initialisation allocates %d bytes in all (budget %d)", total, budget)
	}
	t.Logf("%d packages, %d bytes allocated at init", n, total)
}
