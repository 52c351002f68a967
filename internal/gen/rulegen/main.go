// Command rulegen writes what is generated from the embedded rule data:
// the catalogue docs/rules.md, internal/rules/pickle.json and
// internal/rules/ids.go. Run it with go generate ./internal/rules.
package main

import (
	"bytes"
	"flag"
	"go/format"
	"log"
	"os"

	"github.com/aigis-dev/aigis/internal/rules"
)

func main() {
	out := flag.String("o", "docs/rules.md", "catalogue to write")
	js := flag.String("json", "", "also write the pickle policy as JSON to this file")
	libjs := flag.String("libjson", "", "also write the library allow rules as JSON to this file")
	ids := flag.String("ids", "", "also write the finding id constants (Go) to this file")
	flag.Parse()
	if *js != "" {
		b, err := rules.PickleJSON()
		if err != nil {
			log.Fatal(err)
		}
		write(*js, b)
	}
	if *libjs != "" {
		b, err := rules.LibrariesJSON()
		if err != nil {
			log.Fatal(err)
		}
		write(*libjs, b)
	}
	if *ids != "" {
		var b bytes.Buffer
		if err := rules.WriteIDs(&b); err != nil {
			log.Fatal(err)
		}
		src, err := format.Source(b.Bytes())
		if err != nil {
			log.Fatal(err)
		}
		write(*ids, src)
	}
	var b bytes.Buffer
	if err := rules.WriteCatalogue(&b); err != nil {
		log.Fatal(err)
	}
	write(*out, b.Bytes())
}

func write(p string, b []byte) {
	if err := os.WriteFile(p, b, 0o644); err != nil {
		log.Fatal(err)
	}
}
