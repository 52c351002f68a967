// Command aigis secures the AI supply chain: it scans model files without
// executing them, signs and verifies models, audits dependencies and writes
// AI bills of materials. See README.md.
package main

import (
	"os"
	"runtime/debug"

	"github.com/aigis-dev/aigis/internal/cli"
)

func main() {
	// Scans are short-lived and allocation-heavy: collect less often, but
	// keep the heap under a soft limit so peak memory stays small. The
	// environment variables override both.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(96 << 20)
	}
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
