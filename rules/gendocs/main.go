// Command gendocs writes docs/rules.md from the embedded rule data.
package main

import (
	"bytes"
	"flag"
	"log"
	"os"

	"github.com/aigis-dev/aigis/rules"
)

func main() {
	out := flag.String("o", "docs/rules.md", "output file")
	flag.Parse()
	var b bytes.Buffer
	if err := rules.WriteCatalogue(&b); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
