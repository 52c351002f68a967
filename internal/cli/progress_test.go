package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// progress.run: an interrupted run is "interrupted", exit 2; other errors
// exit 2 unless work chose a code; success is nil.
func TestProgressRun(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	boom := errors.New("boom")
	for _, c := range []struct {
		name string
		ctx  context.Context
		err  error
		code int // -1: nil error
		msg  string
	}{
		{"ok", context.Background(), nil, -1, ""},
		{"plain error", context.Background(), boom, ExitError, "boom"},
		{"coded error", context.Background(), withCode(ExitFindings, nil), ExitFindings, ""},
		{"interrupted", cancelled, boom, ExitError, "interrupted"},
	} {
		cmd := &cobra.Command{}
		cmd.SetContext(c.ctx)
		err := newProgress(io.Discard, true).run(cmd, func(ctx context.Context) error {
			if c.ctx == cancelled && ctx.Err() == nil {
				t.Errorf("%s: work's context not cancelled", c.name)
			}
			return c.err
		})
		var ee *exitError
		switch {
		case c.code < 0 && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.code >= 0 && (!errors.As(err, &ee) || ee.code != c.code || c.msg != "" && ee.Error() != c.msg):
			t.Errorf("%s: got %v, want exit %d %q", c.name, err, c.code, c.msg)
		}
	}
}

// Every verb that does long work stops on Ctrl-C (here: a context
// cancelled before it starts) with "interrupted" and exit 2.
func TestVerbsInterrupted(t *testing.T) {
	model := filepath.Join(corruptModel(t), "model.pt")
	dir := filepath.Dir(model)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"scan", dir},
		{"deps", "--skip-vulns", dir},
		{"bom", "-o", "cyclonedx-json", dir},
		{"digest", dir},
		{"sign", "--private-key", filepath.Join("..", "sign", "testdata", "p256-sec1.pem"), dir},
	} {
		var out, errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		root := newRoot(env)
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&errb)
		err := root.ExecuteContext(ctx)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitError || ee.Error() != "interrupted" {
			t.Errorf("%s: %v (stdout %q)", args[0], err, out.String())
		}
	}
}
