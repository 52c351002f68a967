// Command aigis secures the AI supply chain: it scans model files without
// executing them, signs and verifies models, audits dependencies and writes
// AI bills of materials. See README.md.
package main

import (
	"os"

	"github.com/aigis-dev/aigis/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
