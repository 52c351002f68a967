//go:build !unix

package oms

import "os"

func openFile(p string, _ bool) (*os.File, error) { return os.Open(p) }
