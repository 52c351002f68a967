//go:build !unix

package scan

import "os"

func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
