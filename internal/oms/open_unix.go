//go:build unix

package oms

import (
	"os"
	"syscall"
)

// openFile never blocks on a FIFO swapped in after the walk, and with
// noFollow refuses a final symbolic link.
func openFile(p string, noFollow bool) (*os.File, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK
	if noFollow {
		flags |= syscall.O_NOFOLLOW
	}
	return os.OpenFile(p, flags, 0)
}
