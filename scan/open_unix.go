//go:build unix

package scan

import (
	"errors"
	"io"
	"os"
	"syscall"
)

var errNotRegular = errors.New("not a regular file when opened")

// openRegular opens path without following a final symlink and without
// blocking on a FIFO swapped in after the walk listed it. A regular file
// of at most small bytes is read whole into buf (which must have room)
// and closed: four system calls, no poller registration. A larger one is
// returned open, in blocking mode.
func openRegular(path string, small int64, buf []byte) ([]byte, *os.File, int64, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, nil, 0, errNotRegular
	}
	size := st.Size
	if size <= small && int64(cap(buf)) >= size {
		b := buf[:size]
		n := 0
		for n < len(b) {
			m, err := syscall.Read(fd, b[n:])
			if err == syscall.EINTR {
				continue
			}
			if err != nil || m == 0 {
				syscall.Close(fd)
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return nil, nil, 0, &os.PathError{Op: "read", Path: path, Err: err}
			}
			n += m
		}
		syscall.Close(fd)
		return b, nil, size, nil
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		syscall.Close(fd)
		return nil, nil, 0, &os.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return nil, os.NewFile(uintptr(fd), path), size, nil
}

// oNonblock keeps an open of a FIFO from waiting for a writer.
const oNonblock = syscall.O_NONBLOCK
