package bounded

import (
	"errors"
	"strings"
	"testing"
)

func TestReadAll(t *testing.T) {
	if b, err := ReadAll(strings.NewReader("abcd"), 4); err != nil || string(b) != "abcd" {
		t.Errorf("at the limit: %q %v", b, err)
	}
	if _, err := ReadAll(strings.NewReader("abcde"), 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}
