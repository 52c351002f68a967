package deps

import (
	"strings"
	"testing"
)

func TestCheckTOMLDepth(t *testing.T) {
	deep := "a = " + strings.Repeat("[", maxTOMLDepth+1) + strings.Repeat("]", maxTOMLDepth+1)
	cases := []struct {
		name, toml string
		ok         bool
	}{
		{"real shape", "[[package]]\nname = \"a\"\ndeps = [{ name = \"b\", marker = \"x\" }]\n", true},
		{"too deep", deep, false},
		{"brackets in strings do not count", "a = \"" + strings.Repeat("[", 1000) + "\"\nb = '" + strings.Repeat("{", 1000) + "'\n", true},
		{"brackets in comments do not count", "# " + strings.Repeat("[", 1000) + "\n", true},
		{"multi-line strings", "a = \"\"\"x\"\"" + strings.Repeat("[", 1000) + "\"\"\"\nb = '''q''" + strings.Repeat("[", 1000) + "'''\n", true},
		{"closing quotes in strings cannot hide nesting", "a = " + strings.Repeat(`["]", `, maxTOMLDepth+1), false},
		{"escaped quote does not end a string", "a = \"\\\"" + strings.Repeat("[", 1000) + "\"\n", true},
		{"deep after a multi-line string", "a = '''x'''\nb = " + strings.Repeat("{a=", maxTOMLDepth+1), false},
	}
	for _, c := range cases {
		if err := checkTOMLDepth([]byte(c.toml)); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
