package testutil

import "google.golang.org/protobuf/encoding/protowire"

// PB builds protocol buffer messages field by field, for hand-assembled
// ONNX and TensorFlow fixtures.
type PB []byte

func (p PB) Varint(num int, v uint64) PB {
	p = protowire.AppendTag(p, protowire.Number(num), protowire.VarintType)
	return protowire.AppendVarint(p, v)
}

func (p PB) Bytes(num int, b []byte) PB {
	p = protowire.AppendTag(p, protowire.Number(num), protowire.BytesType)
	return protowire.AppendBytes(p, b)
}

func (p PB) String(num int, s string) PB { return p.Bytes(num, []byte(s)) }

func (p PB) Msg(num int, m PB) PB { return p.Bytes(num, m) }

// ONNXNode is a NodeProto with op type and domain.
func ONNXNode(op, domain string, attrs ...PB) PB {
	n := PB(nil).String(1, "x").String(2, "y").String(4, op)
	for _, a := range attrs {
		n = n.Msg(5, a)
	}
	if domain != "" {
		n = n.String(7, domain)
	}
	return n
}

// ONNXExternalTensor is an initializer whose data lives in location.
func ONNXExternalTensor(name, location string, offset, length int) PB {
	t := PB(nil).Varint(1, uint64(length/4)).Varint(2, 1).String(8, name)
	kv := func(k, v string) PB { return PB(nil).String(1, k).String(2, v) }
	t = t.Msg(13, kv("location", location)).Msg(13, kv("offset", itoa(offset))).Msg(13, kv("length", itoa(length)))
	return t.Varint(14, 1)
}

// ONNXModel wraps nodes and initializers in a graph and a ModelProto
// (ir_version 9, opset 17) as torch.onnx.export writes it.
func ONNXModel(nodes []PB, inits []PB, extra ...PB) []byte {
	g := PB(nil)
	for _, n := range nodes {
		g = g.Msg(1, n)
	}
	g = g.String(2, "main_graph")
	for _, t := range inits {
		g = g.Msg(5, t)
	}
	m := PB(nil).Varint(1, 9).String(2, "pytorch").String(3, "2.5").Msg(7, g).Msg(8, PB(nil).Varint(2, 17))
	for _, e := range extra {
		m = append(m, e...)
	}
	return m
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
