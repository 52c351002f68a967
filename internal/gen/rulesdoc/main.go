// Command rulesdoc writes docs/rules.md and rules/pickle.json from the
// embedded rule data.
package main

import (
	"bytes"
	"flag"
	"log"
	"os"

	"github.com/aigis-dev/aigis/internal/rules"
)

func main() {
	out := flag.String("o", "docs/rules.md", "catalogue to write")
	js := flag.String("json", "", "also write the pickle policy as JSON to this file")
	flag.Parse()
	if *js != "" {
		b, err := rules.PickleJSON()
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*js, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	var b bytes.Buffer
	if err := rules.WriteCatalogue(&b); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
}
