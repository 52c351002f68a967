// Package bounded reads untrusted input into memory under a size limit.
// It never reads more than one byte past the limit, whatever a header or
// a file size claimed.
package bounded

import (
	"fmt"
	"io"
)

// ErrTooLarge is wrapped by ReadAll's error when the input exceeds max.
var ErrTooLarge = fmt.Errorf("over the size limit")

// ReadAll reads r to the end, or fails once it has seen more than max
// bytes.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, max)
	}
	return b, nil
}
