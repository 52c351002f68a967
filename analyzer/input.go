package analyzer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
)

// Input is one piece of content to analyse: a walked file, an archive
// member or a decompressed stream. It is either random-access (files,
// stored members) or a one-shot stream (decompressed data).
type Input struct {
	// Name is the member name inside the parent ("" for the walked file
	// itself, or for a section that shares the parent's offsets).
	Name string
	// Base is added to offsets when Name is "" (a section of the parent,
	// such as the pickle after a .npy header).
	Base int64
	// Depth is the container nesting level, 0 for a walked file.
	Depth int
	// Budget is shared by everything under one walked file.
	Budget *Budget
	// Hint is the base name, passed to Match as Sniff.Name.
	Hint string
	// Neighbours, when set (walked files only, never archive members),
	// reads the files beside this one: see Neighbours.
	Neighbours Neighbours

	ra   io.ReaderAt
	size int64
	br   *bufio.Reader // stream inputs
	used bool          // stream handed out

	sniff *Sniff
}

// NewFileInput makes a random-access input.
func NewFileInput(name string, ra io.ReaderAt, size int64, b *Budget) *Input {
	return &Input{Name: name, Hint: BaseName(name), ra: ra, size: size, Budget: b}
}

// NewStreamInput makes a one-shot input from a stream (for example a
// decompressor). Size is -1 when unknown.
func NewStreamInput(name string, r io.Reader, size int64, b *Budget) *Input {
	return &Input{Name: name, Hint: BaseName(name), br: bufio.NewReaderSize(r, 64<<10), size: size, Budget: b}
}

// Child makes a random-access input for a member of this one.
func (in *Input) Child(name string, ra io.ReaderAt, size int64) *Input {
	c := NewFileInput(name, ra, size, in.Budget)
	c.Depth = in.Depth + 1
	return c
}

// ChildStream makes a stream input for a member of this one.
func (in *Input) ChildStream(name string, r io.Reader, size int64) *Input {
	c := NewStreamInput(name, r, size, in.Budget)
	c.Depth = in.Depth + 1
	return c
}

// Section makes an input for bytes [off, off+n) of this random-access
// input that keeps the parent's offsets in locations.
func (in *Input) Section(off, n int64) (*Input, error) {
	if in.ra == nil {
		return nil, errors.New("section of a stream input")
	}
	c := NewFileInput("", io.NewSectionReader(in.ra, off, n), n, in.Budget)
	c.Base = off
	c.Depth = in.Depth
	c.Hint = in.Hint
	return c, nil
}

// Size is the content size, or -1 for a stream of unknown length.
func (in *Input) Size() int64 { return in.size }

// Seekable reports whether ReaderAt is free (no buffering needed).
func (in *Input) Seekable() bool { return in.ra != nil }

// Sniff returns the head and tail used by Match. For streams it peeks
// without consuming.
func (in *Input) Sniff() *Sniff {
	if in.sniff != nil {
		return in.sniff
	}
	s := &Sniff{Size: in.size, Name: in.Hint}
	if b, ok := BytesOf(in.ra); ok && int64(len(b)) == in.size {
		// In memory: the head and tail are views, not copies.
		s.Head = b[:min(len(b), HeadSize)]
		s.Tail = b[len(b)-min(len(b), TailSize):]
		if len(b) == 0 {
			s.Tail = nil
		}
	} else if in.ra != nil {
		n := int64(HeadSize)
		if in.size >= 0 && in.size < n {
			n = in.size
		}
		head := make([]byte, n)
		k, _ := in.ra.ReadAt(head, 0)
		s.Head = head[:k]
		if in.size > 0 {
			t := int64(TailSize)
			if in.size < t {
				t = in.size
			}
			tail := make([]byte, t)
			k, _ := in.ra.ReadAt(tail, in.size-t)
			s.Tail = tail[:k]
		}
	} else {
		head, _ := in.br.Peek(HeadSize)
		s.Head = bytes.Clone(head)
	}
	in.sniff = s
	return s
}

// Open returns the content as a stream from its first byte. A
// random-access input can be opened any number of times; a stream input
// only once.
func (in *Input) Open() (io.Reader, error) {
	if in.ra != nil {
		return io.NewSectionReader(in.ra, 0, in.size), nil
	}
	if in.used {
		return nil, errors.New("stream input opened twice")
	}
	in.used = true
	return in.br, nil
}

// Drain reads whatever the analyser left of a stream input, so that a
// corrupt or truncated compressed stream is noticed even when the content
// it carries did not need to be read to the end. It returns the first read
// error, or nil at a clean end. Random-access inputs need no draining.
func (in *Input) Drain() error {
	if in.br == nil {
		return nil
	}
	_, err := io.Copy(io.Discard, in.br)
	return err
}

// ReaderAt returns random access to the content. A stream is read in
// full: into memory up to Budget.MaxMemory, then into a temporary file
// that is removed when the walked file is done (an error instead with
// Budget.NoSpill).
func (in *Input) ReaderAt() (io.ReaderAt, int64, error) {
	if in.ra != nil {
		return in.ra, in.size, nil
	}
	r, err := in.Open()
	if err != nil {
		return nil, 0, err
	}
	max := in.Budget.MaxMemory
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, max+1)
	if err != nil && err != io.EOF {
		return nil, 0, err
	}
	if n <= max {
		in.ra, in.size = Bytes(buf.Bytes()), n
		return in.ra, in.size, nil
	}
	if in.Budget.NoSpill {
		return nil, 0, fmt.Errorf("random access to a stream of more than %d bytes needs a temporary file, which this run may not write", max)
	}
	f, err := os.CreateTemp("", "aigis-spill-*")
	if err != nil {
		return nil, 0, fmt.Errorf("spilling stream to disk: %w", err)
	}
	in.Budget.OnDone(func() { f.Close(); os.Remove(f.Name()) })
	if _, err := f.Write(buf.Bytes()); err != nil {
		return nil, 0, err
	}
	m, err := io.Copy(f, r)
	if err != nil {
		return nil, 0, err
	}
	in.ra, in.size = f, n+m
	return in.ra, in.size, nil
}

// BaseName is the last element of a member name, for Sniff.Name.
func BaseName(name string) string {
	if name == "" {
		return ""
	}
	return path.Base(name)
}

// cleanup list on the budget: one walked file's temporary resources.
type cleanups struct {
	mu  sync.Mutex
	fns []func()
}

// OnDone registers fn to run when the walked file is finished.
func (b *Budget) OnDone(fn func()) {
	b.cl.mu.Lock()
	b.cl.fns = append(b.cl.fns, fn)
	b.cl.mu.Unlock()
}

// Done runs the registered cleanups.
func (b *Budget) Done() {
	b.cl.mu.Lock()
	fns := b.cl.fns
	b.cl.fns = nil
	b.cl.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
