package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/aigis-dev/aigis/analyzer"
)

// Tensors lists the tensors of the model file at path for weight
// comparison (aigis diff, scan --base): the file is offered to the
// analysers in the order Dispatch offers it, and the first whose Match
// accepts it must list them (analyzer.TensorLister), so a format is
// recognised here exactly as a scan recognises it. Headers only are
// read; tensor bytes are read later from src, which close releases.
//
// format is the name of the analyser that listed the tensors ("zip" for
// the zip-based formats, whose layouts list them). The error
// wraps analyzer.ErrNoTensors when the content is in a format without
// tensors to list (or in none).
func (s *Scanner) Tensors(ctx context.Context, path string) (format string, src io.ReaderAt, tensors []analyzer.Tensor, close func() error, err error) {
	// The user named this file: a link to it is followed.
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", nil, nil, nil, err
	}
	content, f, size, err := openRegular(real, 0, nil)
	if err != nil {
		return "", nil, nil, nil, err
	}
	close = func() error { return nil }
	src = analyzer.Bytes(content)
	if f != nil {
		src, close = f, f.Close
	}
	budget := analyzer.NewBudget(s.opts.Limits)
	budget.CPU = s.opts.CPU
	defer budget.Done()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Limits.Timeout)
	defer cancel()
	in := analyzer.NewFileInput("", src, size, budget)
	in.Hint = filepath.Base(path)
	sn := in.Sniff()
	for _, a := range s.opts.Analyzers {
		if !a.Match(sn) {
			continue
		}
		tl, ok := a.(analyzer.TensorLister)
		if !ok {
			close()
			return a.Name(), nil, nil, nil, fmt.Errorf("%s: %s content: %w", path, a.Name(), analyzer.ErrNoTensors)
		}
		ts, err := tl.ListTensors(ctx, in)
		if errors.Is(err, analyzer.ErrNotFormat) {
			continue
		}
		if err != nil {
			close()
			return a.Name(), nil, nil, nil, fmt.Errorf("%s: %s: %w", path, a.Name(), err)
		}
		return a.Name(), src, ts, close, nil
	}
	close()
	return "other", nil, nil, nil, fmt.Errorf("%s: content in no supported format: %w", path, analyzer.ErrNoTensors)
}
