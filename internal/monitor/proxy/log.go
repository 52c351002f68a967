package proxy

import (
	"bufio"
	"io"

	"github.com/aigis-dev/aigis/internal/monitor"
)

// recordLog writes records as a traffic log (JSON Lines), buffered and
// flushed every second by the monitor goroutine.
type recordLog struct {
	w       io.Writer
	bw      *bufio.Writer
	content bool
	buf     []byte
	err     error
}

func (l *recordLog) write(r *monitor.Record) {
	if l.err != nil {
		return
	}
	if l.bw == nil {
		l.bw = bufio.NewWriterSize(l.w, 64<<10)
	}
	l.buf = r.AppendLog(l.buf[:0], l.content)
	_, l.err = l.bw.Write(l.buf)
}

func (l *recordLog) flush() {
	if l.bw != nil && l.err == nil {
		l.err = l.bw.Flush()
	}
}
