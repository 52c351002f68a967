package filehash

import (
	"os"

	"golang.org/x/sys/unix"
)

// advise asks for generous readahead: the file is read once, in order.
func advise(f *os.File) { _ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL) }
