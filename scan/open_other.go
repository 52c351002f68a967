//go:build !unix

package scan

import (
	"errors"
	"io"
	"os"
)

var errNotRegular = errors.New("not a regular file when opened")

func openRegular(path string, small int64, buf []byte) ([]byte, *os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, 0, errNotRegular
	}
	if st.Size() <= small && int64(cap(buf)) >= st.Size() {
		b := buf[:st.Size()]
		_, err := io.ReadFull(f, b)
		f.Close()
		if err != nil {
			return nil, nil, 0, err
		}
		return b, nil, st.Size(), nil
	}
	return nil, f, st.Size(), nil
}

const oNonblock = 0
