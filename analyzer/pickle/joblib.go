package pickle

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aigis-dev/aigis/internal/rules"
)

// joblib interleaves raw array bytes with the pickle opcodes: after BUILD
// restores a NumpyArrayWrapper, joblib's unpickler reads the array from the
// same stream (an alignment pad, then the data), or, for object arrays, a
// whole nested pickle. The VM must step over exactly those bytes to reach
// the opcodes that follow.

type dtypeInfo struct {
	itemsize int64
	object   bool
}

func (m *machine) joblibArray(c *call) error {
	m.joblib = true
	// joblib commits the current frame before writing array bytes, which
	// are outside any frame.
	m.frameEnd = -1
	st := c.state
	if st.k != kDict {
		return m.fail("joblib NumpyArrayWrapper state is %s, not a dict", m.render(st, 0))
	}
	dt, ok1 := m.dictGet(st, "dtype")
	shape, ok2 := m.dictGet(st, "shape")
	if !ok1 || !ok2 {
		if _, complete := m.items(st); !complete {
			return m.limit("retained joblib array metadata", int64(m.lim.MaxItems))
		}
		return m.fail("joblib NumpyArrayWrapper state lacks dtype or shape")
	}
	info, err := m.dtype(dt, 0)
	if err != nil {
		return err
	}
	if info.object {
		// joblib: array = pickle.load(file_handle)
		return m.subStream()
	}
	count := int64(1)
	dims, complete := m.items(shape)
	if shape.k != kTuple || !complete {
		return m.limit("retained joblib array shape", int64(m.lim.MaxItems))
	}
	for _, d := range dims {
		n, ok := m.intOf(d)
		if !ok || n < 0 {
			return m.fail("joblib array shape %s is not a tuple of sizes", m.render(shape, 1))
		}
		if n > 0 && count > math.MaxInt64/n {
			return m.fail("joblib array shape %s overflows", m.render(shape, 1))
		}
		count *= n
	}
	if info.itemsize > 0 && count > math.MaxInt64/info.itemsize {
		return m.fail("joblib array size overflows")
	}
	if _, aligned := m.dictGet(st, "numpy_array_alignment_bytes"); aligned {
		pad, err := m.rd.byte()
		if err != nil {
			return err
		}
		if err := m.rd.skip(int64(pad)); err != nil {
			return err
		}
	}
	return m.rd.skip(count * info.itemsize)
}

// dtype works out the item size of a pickled numpy.dtype: the REDUCE
// arguments carry the type string ('f8', 'U5', 'O8'), the BUILD state
// (version, byteorder, subdescr, names, fields, elsize, alignment, flags)
// carries the size of flexible and structured types.
func (m *machine) dtype(v val, depth int) (dtypeInfo, error) {
	if depth > 8 {
		return dtypeInfo{}, m.limit("nested dtype depth", 8)
	}
	if v.k != kCall {
		return dtypeInfo{}, m.fail("joblib array dtype is %s, not a numpy.dtype", m.render(v, 0))
	}
	c := &m.calls[v.ref]
	if c.fn.k != kGlobal {
		return dtypeInfo{}, m.fail("joblib array dtype is not a numpy.dtype")
	}
	g := &m.globs[c.fn.ref]
	if g.dec.Module != "numpy" || g.dec.Name != "dtype" {
		return dtypeInfo{}, m.fail("joblib array dtype is built by %s, not numpy.dtype", g.qualified())
	}
	args, _ := m.items(c.args)
	if len(args) == 0 {
		return dtypeInfo{}, m.fail("numpy.dtype without a type string")
	}
	descr, ok := m.str(args[0])
	if !ok {
		return dtypeInfo{}, m.fail("numpy.dtype type string is %s", m.render(args[0], 0))
	}
	var state []val
	if c.built {
		state, _ = m.items(c.state)
	}
	elsize := int64(-1)
	if len(state) >= 6 {
		if n, ok := m.intOf(state[5]); ok {
			elsize = n
		}
	}
	info := dtypeInfo{itemsize: -1}
	// Structured dtype: fields dict of name -> (dtype, offset[, title]).
	if len(state) >= 5 && state[4].k == kDict {
		fields, complete := m.items(state[4])
		if !complete {
			return dtypeInfo{}, m.limit("retained dtype fields", int64(m.lim.MaxItems))
		}
		for i := 1; i < len(fields); i += 2 {
			f, _ := m.items(fields[i])
			if len(f) == 0 {
				return dtypeInfo{}, m.fail("malformed dtype field")
			}
			sub, err := m.dtype(f[0], depth+1)
			if err != nil {
				return dtypeInfo{}, err
			}
			info.object = info.object || sub.object
		}
	}
	kind, digits := descr[:min(1, len(descr))], ""
	if len(descr) > 1 {
		digits = descr[1:]
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	switch {
	case kind == "O":
		info.object = true
		info.itemsize = 8
	case strings.Contains("fiucbMmSaV", kind) && err == nil && n >= 0:
		info.itemsize = n
	case kind == "U" && err == nil && n >= 0:
		info.itemsize = n * 4
	case kind == "?":
		info.itemsize = 1
	default:
		return dtypeInfo{}, m.fail("numpy dtype %q not understood", descr)
	}
	if elsize > 0 {
		info.itemsize = elsize
	}
	return info, nil
}

// subStream scans the nested pickle joblib writes for object arrays; it
// is part of the same stream of bytes and the same verdict.
func (m *machine) subStream() error {
	if m.depth >= m.lim.MaxSubStreams {
		return m.limit("nested joblib object arrays", int64(m.lim.MaxSubStreams))
	}
	sub := newMachine(m.ctx, m.rd, m.lim, m.sink)
	sub.depth = m.depth + 1
	err := sub.run()
	m.ops += sub.ops
	if m.sink != nil {
		m.sink.flush(sub)
	}
	return err
}

// externalArray flags old joblib wrappers that name a file to load.
func (m *machine) externalArray(c *call) {
	if m.sink == nil {
		return
	}
	if f, ok := m.dictGet(c.state, "filename"); ok {
		name, _ := m.str(f)
		m.sink.anomaly(rules.PickleExternalArray, c.off, fmt.Sprintf("array data is loaded from the file %q named in the pickle", name))
	}
}
