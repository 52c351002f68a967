package pystr

import "testing"

func TestUnescape(t *testing.T) {
	for _, c := range []struct {
		in    string
		bytes bool
		want  string
	}{
		{`\x5f\x5fclass\x5f\x5f`, false, "__class__"},
		{`\u005f\U0000005f`, false, "__"},
		{`\137\137`, false, "__"},
		{`a\nb\tc`, false, "a\nb\tc"},
		{`\xff`, true, "\xff"},
		{`\xzz`, false, `\xzz`},
		{`\`, false, `\`},
	} {
		if got := Unescape(c.in, c.bytes); got != c.want {
			t.Errorf("Unescape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if Reverse("metsys") != "system" {
		t.Error("Reverse")
	}
}
