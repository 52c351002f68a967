package hashing

import (
	"os"

	"golang.org/x/sys/unix"
)

// advise tells the kernel the range will be read once, front to back, so
// readahead is generous. It is a hint: errors are irrelevant.
func advise(f *os.File, off, n int64) {
	if n < 0 {
		n = 0
	}
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_SEQUENTIAL)
}
