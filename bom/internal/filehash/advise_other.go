//go:build !linux

package filehash

import "os"

func advise(*os.File) {}
