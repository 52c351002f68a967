package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/aigis-dev/aigis/bom"
)

func main() {
	d, err := bom.Build(context.Background(), os.Args[1], bom.Options{})
	if err != nil {
		fmt.Println("ERR", err)
		return
	}
	for _, c := range d.All() {
		c.Card = nil
	}
	b, _ := json.MarshalIndent(d, "", " ")
	os.Stdout.Write(b)
}
